"""Files on built-in items: added once by name (a retry adds nothing twice), capped per file and per item
(all or nothing), names and content types cleaned."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import Engine, select

from boards.destination import FileDraft
from boards.draft import ItemDraft
from boards.errors import FilesTooLarge, ItemNotFound
from boards.files import FILE_MAX, ITEM_FILES_MAX, clean_content_type, clean_name
from db.engine import session_scope
from db.item_files import ItemFile
from tests.boards.conftest import count


@pytest.fixture
def item_id(store, board):
    made, _ = store.create_item_once(
        recipe_id="r",
        message_id="m",
        connection_id="c",
        draft=ItemDraft(name="x", group="New"),
        board_id=str(board.id),
    )
    return made


def _file(name: str, size: int = 3, content_type: str = "application/pdf") -> FileDraft:
    return FileDraft(name=name, content_type=content_type, content=b"x" * size)


def _stored(engine: Engine) -> list[tuple[str, str, int, int]]:
    with session_scope(engine) as session:
        rows = session.scalars(select(ItemFile).order_by(ItemFile.name)).all()
        return [(f.name, f.content_type, f.size, len(f.content)) for f in rows]


def test_files_are_added_once_by_name(store, engine, item_id):
    files = [_file("invoice.pdf"), _file("notes.txt", 5, "text/plain; charset=utf-8")]
    assert store.attach_files(item_id, files) == 2
    # The activity retried after the first call committed: nothing twice.
    assert store.attach_files(item_id, files) == 0
    assert store.attach_files(item_id, [*files, _file("later.pdf")]) == 1
    assert store.attach_files(item_id, []) == 0
    assert _stored(engine) == [
        ("invoice.pdf", "application/pdf", 3, 3),
        ("later.pdf", "application/pdf", 3, 3),
        ("notes.txt", "text/plain", 5, 5),
    ]


def test_the_same_name_twice_in_one_call_is_added_once(store, engine, item_id):
    assert store.attach_files(item_id, [_file("a.pdf"), _file("a.pdf", 7)]) == 1
    assert _stored(engine) == [("a.pdf", "application/pdf", 3, 3)]


def test_a_file_over_the_cap_is_refused_and_nothing_is_added(store, engine, item_id):
    with pytest.raises(FilesTooLarge, match=f"over the {FILE_MAX} bytes") as caught:
        store.attach_files(item_id, [_file("small.pdf"), _file("huge.bin", FILE_MAX + 1)])
    assert "huge" not in str(caught.value)
    assert count(engine, ItemFile) == 0


def test_an_items_files_together_are_capped(store, engine, item_id):
    chunk = FILE_MAX - 1
    assert store.attach_files(item_id, [_file("one", chunk), _file("two", chunk)]) == 2
    with pytest.raises(FilesTooLarge, match=f"over its {ITEM_FILES_MAX}"):
        store.attach_files(item_id, [_file("three", ITEM_FILES_MAX - 2 * chunk + 1)])
    assert count(engine, ItemFile) == 2
    # Exactly at the cap is allowed.
    assert store.attach_files(item_id, [_file("three", ITEM_FILES_MAX - 2 * chunk)]) == 1


def test_unknown_item(store, engine):
    with pytest.raises(ItemNotFound):
        store.attach_files("7b0a4d0e-4f7e-4b8a-9d1c-0f0e0d0c0b0a", [_file("a")])
    with pytest.raises(ItemNotFound):
        store.attach_files("not-an-id", [_file("a")])


def test_concurrent_retries_add_each_file_once(store, engine, item_id):
    workers = 4
    barrier = threading.Barrier(workers)
    added: list[int] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            barrier.wait()
            added.append(store.attach_files(item_id, [_file("a.pdf"), _file("b.pdf")]))
        except Exception as err:  # collected: a thread's exception would otherwise vanish
            errors.append(err)

    threads = [threading.Thread(target=run) for _ in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and sum(added) == 2 and count(engine, ItemFile) == 2


@pytest.mark.parametrize(
    ("name", "clean"),
    [
        ("invoice.pdf", "invoice.pdf"),
        ("../../etc/passwd", "_.._etc_passwd"),
        ("C:\\temp\\a.txt", "C__temp_a.txt"),
        ("a\x00b\nc.txt", "a_b_c.txt"),
        (".hidden", "hidden"),
        ("   ", "attachment"),
        ("x" * 300 + ".pdf", "x" * 196 + ".pdf"),
        ("Rechnung März.pdf", "Rechnung März.pdf"),
    ],
)
def test_names_are_cleaned(name, clean):
    assert clean_name(name) == clean and len(clean_name(name)) <= 200


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("application/pdf", "application/pdf"),
        ("Text/HTML; charset=utf-8", "text/html"),
        ("", "application/octet-stream"),
        ("not a type", "application/octet-stream"),
        ("text/plain\r\nX-Injected: 1", "application/octet-stream"),
    ],
)
def test_content_types_are_cleaned(given, stored):
    assert clean_content_type(given) == stored
