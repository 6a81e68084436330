"""Demo catalog: categories, products with variants and generated pictures for a store."""

import io
import random

from PIL import Image, ImageDraw, ImageFont
from sqlalchemy import func, select

from app.catalog.images import add_image
from app.catalog.models import Category, Product
from app.catalog.service import VariantData, create_product
from app.catalog.text import slugify
from app.extensions import db
from app.money import to_minor
from tenants.models import Store

CATALOGS = {
    "apparel": {
        "tree": {
            "Tops": ["T-Shirts", "Shirts", "Hoodies"],
            "Bottoms": ["Trousers", "Shorts"],
            "Accessories": ["Hats", "Bags"],
        },
        "nouns": {
            "T-Shirts": "T-Shirt",
            "Shirts": "Shirt",
            "Hoodies": "Hoodie",
            "Trousers": "Trousers",
            "Shorts": "Shorts",
            "Hats": "Cap",
            "Bags": "Tote Bag",
        },
        "adjectives": [
            "Classic",
            "Everyday",
            "Trail",
            "Urban",
            "Heritage",
            "Coastal",
            "Summit",
            "Weekend",
            "Workshop",
            "Harbor",
            "Canyon",
            "Nordic",
        ],
        "materials": ["Cotton", "Linen", "Organic Cotton", "Wool Blend", "Canvas", "Fleece"],
        "options": [("Size", ["S", "M", "L", "XL", "XXL"]), ("Colour", ["Navy", "Olive", "Sand"])],
        "tags": ["new", "sale", "bestseller", "organic", "outdoor", "gift"],
    },
    "batik": {
        "tree": {
            "Kain": ["Batik Tulis", "Batik Cap"],
            "Pakaian": ["Kemeja", "Dress"],
            "Aksesoris": ["Syal", "Tas"],
        },
        "nouns": {
            "Batik Tulis": "Kain Batik Tulis",
            "Batik Cap": "Kain Batik Cap",
            "Kemeja": "Kemeja Batik",
            "Dress": "Dress Batik",
            "Syal": "Syal Batik",
            "Tas": "Tas Batik",
        },
        "adjectives": [
            "Parang",
            "Kawung",
            "Truntum",
            "Mega Mendung",
            "Sekar Jagad",
            "Sidomukti",
            "Lasem",
            "Pekalongan",
            "Solo",
            "Yogya",
            "Madura",
            "Cirebon",
        ],
        "materials": ["Katun Primisima", "Sutra", "Rayon", "Katun Dobby"],
        "options": [("Ukuran", ["S", "M", "L", "XL"])],
        "tags": ["tulis", "cap", "sutra", "hadiah", "baru", "promo"],
    },
    "coffee": {
        "tree": {
            "Kaffee": ["Espresso", "Filter", "Entkoffeiniert"],
            "Zubehör": ["Mühlen", "Tassen"],
        },
        "nouns": {
            "Espresso": "Espresso",
            "Filter": "Filterkaffee",
            "Entkoffeiniert": "Decaf",
            "Mühlen": "Handmühle",
            "Tassen": "Tasse",
        },
        "adjectives": [
            "Äthiopien Yirgacheffe",
            "Kolumbien Huila",
            "Brasilien Cerrado",
            "Kenia Nyeri",
            "Guatemala Antigua",
            "Sumatra Mandheling",
            "Haus",
            "Berliner",
            "Morgen",
            "Nacht",
        ],
        "materials": ["Röstung hell", "Röstung mittel", "Röstung dunkel"],
        "options": [("Menge", ["250 g", "500 g", "1 kg"]), ("Mahlgrad", ["Bohne", "Gemahlen"])],
        "tags": ["bio", "fairtrade", "single origin", "blend", "neu", "geschenk"],
    },
}
STORE_CATALOG = {"acme": "apparel", "batik": "batik", "kaffee": "coffee"}
# Typical prices in each currency's major units.
PRICE_RANGES = {"USD": (12, 180), "EUR": (8, 90), "IDR": (75_000, 1_500_000)}


def _placeholder(title: str, colour: str, rng: random.Random) -> bytes:
    """A square JPEG with the product's initials on a colour field (the demo's photos: JPEG, as
    a camera's are, and ten times quicker to write and to store cleanly than PNG)."""
    base = tuple(int(colour[i : i + 2], 16) for i in (1, 3, 5))
    tint = tuple(min(255, max(0, c + rng.randint(-40, 40))) for c in base)
    picture = Image.new("RGB", (640, 640), tint)
    draw = ImageDraw.Draw(picture)
    for i in range(0, 640, 40):
        shade = tuple(min(255, c + 18) for c in tint)
        draw.line([(i, 0), (0, i)], fill=shade, width=6)
    initials = "".join(word[0] for word in title.split()[:2]).upper()
    font = ImageFont.load_default(size=220)
    draw.text((320, 320), initials, fill=(255, 255, 255), font=font, anchor="mm")
    buffer = io.BytesIO()
    picture.save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def _categories(store: Store, tree: dict[str, list[str]]) -> dict[str, Category]:
    found = {
        c.name: c for c in db.session.scalars(select(Category).where(Category.store_id == store.id))
    }
    for position, (parent_name, children) in enumerate(tree.items()):
        parent = found.get(parent_name)
        if parent is None:
            parent = Category(
                store_id=store.id, name=parent_name, slug=slugify(parent_name), position=position
            )
            db.session.add(parent)
            db.session.flush()
            found[parent_name] = parent
        for child_position, child_name in enumerate(children):
            if child_name not in found:
                child = Category(
                    store_id=store.id,
                    name=child_name,
                    slug=slugify(child_name),
                    parent_id=parent.id,
                    position=child_position,
                )
                db.session.add(child)
                found[child_name] = child
    db.session.flush()
    return found


def seed_store_catalog(store: Store, count: int = 200, *, images: bool = True) -> int:
    """Fill `store` up to `count` products (idempotent); returns how many were added."""
    existing = db.session.scalar(select(func.count()).where(Product.store_id == store.id))
    if existing >= count:
        return 0
    spec = CATALOGS[STORE_CATALOG.get(store.slug, "apparel")]
    categories = _categories(store, spec["tree"])
    leaves = [name for children in spec["tree"].values() for name in children]
    low, high = PRICE_RANGES.get(store.currency, (10, 150))
    scale = to_minor(1, store.currency)  # minor units in one major unit
    added = 0
    for n in range(count):
        rng_n = random.Random(f"{store.slug}-{n}")
        leaf = leaves[n % len(leaves)]
        title = (
            f"{rng_n.choice(spec['adjectives'])} {rng_n.choice(spec['materials'])} "
            f"{spec['nouns'][leaf]}"
        )
        title = f"{title} No. {n + 1}"
        if n < existing:
            continue
        options = spec["options"][: 1 + (n % len(spec["options"]))]
        combos = [[]]
        for _, values in options:
            combos = [[*c, v] for c in combos for v in values]
        price_major = rng_n.randint(low, high)
        if store.currency == "IDR":
            price_major = price_major // 5000 * 5000
        # x.99 prices where the currency has cents in practice (not rupiah).
        cents = scale > 1 and store.currency != "IDR" and n % 3 == 0
        price = price_major * scale - (1 if cents else 0)
        on_sale = n % 4 == 0
        variants = [
            VariantData(
                sku=f"{store.slug[:3].upper()}-{n + 1:04d}-{i + 1:02d}",
                price=price
                + i * (scale * (5 if store.currency != "IDR" else 10_000) if i % 2 else 0),
                options=combo,
                compare_at_price=(price + i * 0) * 13 // 10 if on_sale else None,
                stock=0 if n % 11 == 0 else rng_n.randint(0, 40),
                weight_grams=rng_n.randint(150, 1200),
            )
            for i, combo in enumerate(combos)
        ]
        for variant in variants:
            if variant.compare_at_price is not None and variant.compare_at_price <= variant.price:
                variant.compare_at_price = variant.price * 13 // 10
        tags = rng_n.sample(spec["tags"], 2)
        parent_name = next(p for p, kids in spec["tree"].items() if leaf in kids)
        product = create_product(
            store,
            title=title,
            option_names=[name for name, _ in options],
            variants=variants,
            description_md=(
                f"**{title}** from {store.name}.\n\n"
                f"- {rng_n.choice(spec['materials'])}\n- Made in small batches\n"
                f"- {tags[0].title()}\n\n"
                "Care: follow the label. Questions? See the FAQ below."
            ),
            tags=tags,
            status="active" if n % 25 else "draft",
            featured=n % 23 == 0,
            categories=[categories[leaf], categories[parent_name]],
            faqs=[
                ("How long does shipping take?", "Usually 2 to 5 working days."),
                ("Can I return it?", "Yes, within 30 days, unused."),
            ],
            commit=False,
        )
        added += 1
        if images:
            db.session.commit()
            add_image(
                product, _placeholder(title, store.accent_color, rng_n), alt=title, process_now=True
            )
        elif added % 500 == 0:
            db.session.commit()
    db.session.commit()
    return added
