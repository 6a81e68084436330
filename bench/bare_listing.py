"""The ceiling for bench/storefront_http.py: a bare Flask + Flask-SQLAlchemy + Jinja page
listing the same 24 products as Pasar's `/products/`, with a layout, but no tenancy,
sessions, CSRF or cache:

    BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/pasar_h4_bench BENCH_STORE_ID=1 \\
        .venv/bin/gunicorn -w 4 bench.bare_listing:app
"""

import os

from flask import Flask, render_template_string
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import select

app = Flask(__name__)
app.config["SQLALCHEMY_DATABASE_URI"] = os.environ.get(
    "BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/pasar_h4_bench"
).replace("postgresql://", "postgresql+psycopg://", 1)
db = SQLAlchemy(app)
STORE_ID = int(os.environ.get("BENCH_STORE_ID") or 1)


class Product(db.Model):
    __tablename__ = "products"
    id = db.Column(db.Integer, primary_key=True)
    store_id = db.Column(db.Integer)
    title = db.Column(db.String)
    slug = db.Column(db.String)
    status = db.Column(db.String)
    min_price = db.Column(db.Integer)
    in_stock = db.Column(db.Boolean)
    created_at = db.Column(db.DateTime)


PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Products</title>
<link rel="stylesheet" href="/static/css/pasar.css"></head>
<body><header class="site-header"><a class="brand" href="/">Bench</a>
<nav><a href="/products/">Products</a></nav></header>
<main class="container"><h1>All products</h1>
<ul class="product-grid" role="list">
{% for p in products %}
<li class="product-card{% if not p.in_stock %} product-card--sold-out{% endif %}">
  <a class="product-card__link" href="/products/{{ p.slug }}">
    <span class="product-card__title">{{ p.title }}</span>
    <span class="price">${{ "%.2f"|format(p.min_price / 100) }}</span>
  </a>
</li>
{% endfor %}
</ul></main><footer>Bench</footer></body></html>"""


@app.get("/")
def listing():
    products = db.session.scalars(
        select(Product)
        .where(Product.store_id == STORE_ID, Product.status == "active")
        .order_by(Product.created_at.desc(), Product.id.desc())
        .limit(24)
    ).all()
    return render_template_string(PAGE, products=products)
