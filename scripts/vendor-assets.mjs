// Copy the installed front-end packages into static/vendor/ (git-ignored).
import { copyFileSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const target = join(root, "static", "vendor");
mkdirSync(target, { recursive: true });

const files = [
  ["node_modules/htmx.org/dist/htmx.min.js", "htmx.min.js"],
  // The API docs page (/api/v1/docs): Swagger UI from our own host, no CDN.
  ["node_modules/swagger-ui-dist/swagger-ui-bundle.js", "swagger-ui-bundle.js"],
  ["node_modules/swagger-ui-dist/swagger-ui.css", "swagger-ui.css"],
  // The htmx Server-Sent Events extension (app/live/): hx-ext="sse", sse-connect, sse:* triggers.
  ["node_modules/htmx-ext-sse/dist/sse.min.js", "htmx-ext-sse.min.js"],
];
for (const [from, to] of files) {
  copyFileSync(join(root, from), join(target, to));
  console.log(`static/vendor/${to} <- ${from}`);
}
