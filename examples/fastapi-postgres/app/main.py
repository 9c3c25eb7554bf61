import os

from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db import Item, get_engine

app = FastAPI(title="fastapi-postgres example")


@app.get("/health")
def health() -> dict[str, str]:
    return {"status": "ok"}


@app.get("/items")
def list_items() -> list[dict[str, int | str]]:
    with Session(get_engine()) as session:
        items = session.scalars(select(Item).order_by(Item.id)).all()
        return [{"id": item.id, "name": item.name} for item in items]


def run() -> None:
    import uvicorn

    uvicorn.run("app.main:app", host="0.0.0.0", port=int(os.environ.get("PORT", "8000")))


if __name__ == "__main__":
    run()
