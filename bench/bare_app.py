"""The ceiling for bench/checkout.py: a minimal Flask + SQLAlchemy app, one INSERT per POST.

Served by gunicorn the same way as Pasar, on the same PostgreSQL, so the ratio between the two
says what Pasar's own work costs on this machine at this moment:

    BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/pasar_bench_checkout \\
        .venv/bin/gunicorn -w 4 --threads 4 bench.bare_app:app
"""

import os

from flask import Flask, redirect, request
from sqlalchemy import create_engine, text

engine = create_engine(
    os.environ.get(
        "BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/pasar_bench_checkout"
    ).replace("postgresql://", "postgresql+psycopg://", 1),
    pool_pre_ping=True,
)
app = Flask(__name__)


def create_table() -> None:
    with engine.begin() as conn:
        conn.execute(
            text(
                "CREATE TABLE IF NOT EXISTS bare_orders ("
                " id bigserial PRIMARY KEY, email text NOT NULL, key text UNIQUE NOT NULL,"
                " placed_at timestamptz NOT NULL DEFAULT now())"
            )
        )


@app.post("/place")
def place():
    with engine.begin() as conn:
        number = conn.execute(
            text("INSERT INTO bare_orders (email, key) VALUES (:email, :key) RETURNING id"),
            {"email": request.form["email"], "key": request.form["key"]},
        ).scalar_one()
    return redirect(f"/orders/{number}", 303)
