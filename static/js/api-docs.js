// The API reference page (/api/v1/docs): Swagger UI drawn from the store's own OpenAPI document.
// A file, not an inline script: the CSP allows scripts from 'self' only.
document.addEventListener("DOMContentLoaded", () => {
  const root = document.getElementById("swagger-ui");
  if (!root || typeof window.SwaggerUIBundle !== "function") return;
  window.SwaggerUIBundle({
    url: root.dataset.spec,
    domNode: root,
    deepLinking: true,
    // No call to validator.swagger.io: nothing on this page leaves the store's host.
    validatorUrl: null,
  });
});
