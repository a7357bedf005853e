"""ECB-format history files made in tests, and a tiny HTTP server on 127.0.0.1 to serve them.

The real file (https://www.ecb.europa.eu/stats/eurofxref/eurofxref-hist.zip) is a zip holding
``eurofxref-hist.csv``: ``Date,USD,JPY,...,`` then one line per business day, newest first,
``N/A`` where a currency has no rate, and a trailing comma on every line.
"""

from __future__ import annotations

import http.server
import io
import threading
import zipfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager


def ecb_csv(currencies: Sequence[str], rows: Sequence[tuple[str, Sequence[str]]]) -> str:
    lines = ["Date," + ",".join(currencies) + ","]
    lines += [day + "," + ",".join(cells) + "," for day, cells in rows]
    return "\n".join(lines) + "\n"


def ecb_zip(currencies: Sequence[str], rows: Sequence[tuple[str, Sequence[str]]]) -> bytes:
    return zip_text(ecb_csv(currencies, rows))


def zip_text(text: str, name: str = "eurofxref-hist.csv") -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(zipfile.ZipInfo(name, (2026, 11, 20, 16, 0, 0)), text)
    return out.getvalue()


# Two business days, Thursday and Friday; 2026-11-21/22 are a weekend. GBP has no rate on the
# Friday (N/A), so its last rate is Thursday's; CHF is not in the file at all.
CURRENCIES = ("USD", "JPY", "HKD", "GBP")
ROWS = (
    ("2026-11-20", ("1.05", "160", "8.4", "N/A")),
    ("2026-11-19", ("1.04", "158", "8.32", "0.85")),
)


def sample_zip() -> bytes:
    return ecb_zip(CURRENCIES, ROWS)


class Served:
    """What the server answers: a body, a status, how often it was asked."""

    def __init__(self, body: bytes, status: int = 200) -> None:
        self.body = body
        self.status = status
        self.hits = 0
        self.url = ""


@contextmanager
def serve(body: bytes, status: int = 200) -> Iterator[Served]:
    served = Served(body, status)

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
            served.hits += 1
            self.send_response(served.status)
            self.send_header("Content-Type", "application/zip")
            self.send_header("Content-Length", str(len(served.body)))
            self.end_headers()
            self.wfile.write(served.body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    served.url = f"http://127.0.0.1:{server.server_address[1]}/eurofxref-hist.zip"
    try:
        yield served
    finally:
        server.shutdown()
        server.server_close()


def today_zip() -> bytes:
    """ECB rates dated today and yesterday (so the file is the newest, whatever the clock)."""
    from datetime import UTC, datetime, timedelta

    day = datetime.now(UTC).date()
    return ecb_zip(CURRENCIES, [(day.isoformat(), ("1.05", "160", "8.4", "N/A")),
                                ((day - timedelta(days=1)).isoformat(),
                                 ("1.04", "158", "8.32", "0.85"))])
