"""EPU load profile for Locust (Debian's python3-locust, 2.12+).

Run it through `npm run loadtest` (scripts/loadtest.mjs), which starts an EPU on
embedded defaults when no --url is given, runs Locust headless, and checks the
SLOs. Directly: `locust -f loadtest/locustfile.py --headless --host URL -u 50 -r 10 -t 60s`.

The mix: who the simulated users are, and what each does
==========================================================

Users are picked by class weight; each then loops over its tasks by task weight,
waiting a think time between tasks (EPU_LOADTEST_WAIT="MIN-MAX" seconds,
default 0.5-2.0; shorten it to push more requests per user).

| user class        | weight | share | what it does                                  |
|-------------------|-------:|------:|-----------------------------------------------|
| AnonymousBrowser  |     60 |  60 % | reads pages and the public API, never signs in |
| Member            |     30 |  30 % | signs up, logs in, books, uploads photos       |
| Organiser         |     10 |  10 % | signs up, runs an event, exports it            |

AnonymousBrowser tasks (weight; share of this class's tasks)
    home page `GET /`                                           3  (25 %)
    event list `GET /api/v1/events` (sometimes page 2)          3  (25 %)
    event page `GET /events/:id`                                4  (33 %)
    gallery `GET /api/v1/events/:id/photos?limit=20`, following
      nextCursor for up to 3 pages, fetching a few thumbnails   2  (17 %)

Member (on start: sign up with a unique email; 1 in 5 log out and log in again)
    event page `GET /events/:id`                                4  (24 %)
    event JSON `GET /api/v1/events/:id`                         2  (12 %)
    book `POST /api/v1/events/:id/bookings` (one event in 8 is
      nearly full, so 409 event_full happens and is expected)   3  (18 %)
    my bookings `GET /api/v1/me/bookings`                       2  (12 %)
    gallery of a booked event (as AnonymousBrowser)             2  (12 %)
    upload a photo to a booked event (multipart `file`)         1   (6 %)
    cancel a booking `DELETE /api/v1/events/:id/bookings/me`    1   (6 %)
    who am I `GET /api/v1/me`                                   1   (6 %)
    log out and log in again                                    1   (6 %)

Organiser (on start: sign up, create one public event of capacity 500)
    own event page `GET /events/:id`                            3  (30 %)
    bookings of the own event `GET /api/v1/events/:id/bookings` 2  (20 %)
    upload a photo to the own event                             2  (20 %)
    create another event `POST /api/v1/events`                  1  (10 %)
    request an export `POST /api/v1/events/:id/exports`, then
      poll `GET /api/v1/exports/:id` every second until ready
      or failed (at most 20 polls)                              2  (20 %)

Seed (once, at test start, not counted in the stats): 3 organiser accounts,
20 public events (capacities 5000 or unlimited, one of capacity 5 so that
bookings hit event_full), and photos in the first events so that galleries
have more than one page (skipped while the photo API answers 404).

Outcomes counted as success although not 2xx: 409 `event_full` on booking, 429
(with retry-after) on signup, login, upload and export, and 200 for an
existing booking. Every 5xx, every other 4xx and every connection error is a
failure. Requests are named by route template (`/events/:id`) so the stats
group per endpoint; the runner reads those groups from the CSV.
"""

from __future__ import annotations

import json
import os
import random
import struct
import sys
import threading
import time
import uuid
import zlib
from datetime import datetime, timedelta, timezone
from urllib.parse import urlsplit

from locust import FastHttpUser, between, events, task
from locust.exception import StopUser

PASSWORD = "loadtest-password-1"
RUN_ID = os.environ.get("EPU_LOADTEST_RUN_ID") or uuid.uuid4().hex[:8]


def _wait_range() -> tuple[float, float]:
    raw = os.environ.get("EPU_LOADTEST_WAIT", "0.5-2.0")
    try:
        low, high = (float(part) for part in raw.split("-", 1))
        if 0 <= low <= high:
            return low, high
    except ValueError:
        pass
    raise SystemExit(f"EPU_LOADTEST_WAIT must look like MIN-MAX in seconds, got {raw!r}")


WAIT_MIN, WAIT_MAX = _wait_range()


def _png(width: int, height: int, seed: int) -> bytes:
    """A small valid RGB PNG, built once at import; no imaging library needed."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    def pixel(x: int, y: int) -> bytes:
        return bytes(((x * 8 + seed * 40) % 256, (y * 8) % 256, (x * y + seed * 7) % 256))

    # Each scanline starts with filter type 0 (none), then RGB triples.
    rows = b"".join(b"\x00" + b"".join(pixel(x, y) for x in range(width)) for y in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows, 9)) + chunk(b"IEND", b"")


# A few variants, so that content-addressed storage (if any) still sees distinct files.
PNGS = [_png(32, 24, seed) for seed in range(6)]


def multipart_png() -> tuple[bytes, dict[str, str]]:
    boundary = "epu-loadtest-" + uuid.uuid4().hex
    image = random.choice(PNGS)
    body = (
        f"--{boundary}\r\n"
        f'Content-Disposition: form-data; name="file"; filename="loadtest-{uuid.uuid4().hex[:8]}.png"\r\n'
        "Content-Type: image/png\r\n\r\n"
    ).encode() + image + f"\r\n--{boundary}--\r\n".encode()
    return body, {"Content-Type": f"multipart/form-data; boundary={boundary}"}


def future_iso(days: float) -> str:
    return (datetime.now(timezone.utc) + timedelta(days=days)).isoformat(timespec="seconds").replace("+00:00", "Z")


def unique_email(kind: str) -> str:
    return f"lt-{kind}-{RUN_ID}-{uuid.uuid4().hex[:12]}@loadtest.example.com"


def error_code(response) -> str | None:
    try:
        return json.loads(response.text or "{}").get("error", {}).get("code")
    except (ValueError, AttributeError):
        return None


def body_json(response) -> dict:
    try:
        value = json.loads(response.text or "null")
        return value if isinstance(value, dict) else {}
    except ValueError:
        return {}


class Pool:
    """Event ids known to every simulated user of this process."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.public: list[str] = []
        self.nearly_full: list[str] = []

    def add(self, event_id: str) -> None:
        with self.lock:
            if event_id not in self.public:
                self.public.append(event_id)

    def pick(self) -> str | None:
        with self.lock:
            if not self.public:
                return None
            # Traffic is skewed, as it is in life: the first events are the popular ones.
            index = min(int(random.expovariate(1 / 6)), len(self.public) - 1)
            return self.public[index]


POOL = Pool()


def _finish(response, ok_statuses=(), ok_codes=(), allow_429=False) -> None:
    """Marks a catch_response request: 2xx, listed statuses/codes and 429 are fine; 5xx never."""
    status = response.status_code
    if 200 <= status < 300 or status in ok_statuses:
        response.success()
    elif status >= 500 or status == 0:
        response.failure(f"{status} {error_code(response) or ''}".strip())
    elif status == 429 and allow_429:
        response.success()
    elif status == 409 and error_code(response) in ok_codes:
        response.success()
    else:
        response.failure(f"{status} {error_code(response) or ''}".strip())


# ---------------------------------------------------------------- seeding


@events.test_start.add_listener
def seed(environment, **_kwargs) -> None:
    """Organisers and events through the public API, before any user starts."""
    if getattr(environment, "epu_seeded", False):
        return
    environment.epu_seeded = True
    import requests  # only here: seeding is plain blocking HTTP, outside the stats

    host = environment.host.rstrip("/")
    count = int(os.environ.get("EPU_LOADTEST_SEED_EVENTS", "20"))
    photos_wanted = int(os.environ.get("EPU_LOADTEST_SEED_PHOTOS", "45"))
    created, photos, problems = 0, 0, []
    organisers = []
    try:
        for n in range(3):
            session = requests.Session()
            reply = session.post(
                f"{host}/api/v1/auth/signup",
                json={"email": unique_email("seed"), "password": PASSWORD, "name": f"Seed organiser {n + 1}"},
                timeout=30,
            )
            if reply.status_code != 201:
                problems.append(f"signup {reply.status_code} {error_code(reply)}")
                continue
            organisers.append(session)
        if not organisers:
            raise RuntimeError("no organiser could sign up: " + "; ".join(problems))
        for n in range(count):
            session = organisers[n % len(organisers)]
            capacity = 5 if n == count - 1 else (None if n % 4 == 3 else 5000)
            reply = session.post(
                f"{host}/api/v1/events",
                json={
                    "title": f"Load test event {n + 1} ({RUN_ID})",
                    "description": "Seeded by loadtest/locustfile.py",
                    "venue": "Loopback Hall",
                    "startsAt": future_iso(7 + n),
                    "capacity": capacity,
                    "visibility": "public",
                },
                timeout=30,
            )
            if reply.status_code != 201:
                problems.append(f"event {reply.status_code} {error_code(reply)}")
                continue
            event_id = body_json(reply).get("id")
            if not event_id:
                continue
            created += 1
            (POOL.nearly_full if capacity == 5 else POOL.public).append(event_id)
        # Galleries with more than one page: most photos on the first event.
        targets = POOL.public[:5]
        for index in range(photos_wanted if targets else 0):
            event_id = targets[0] if index < photos_wanted * 2 // 3 else random.choice(targets)
            owner = organisers[POOL.public.index(event_id) % len(organisers)]
            body, headers = multipart_png()
            reply = owner.post(f"{host}/api/v1/events/{event_id}/photos", data=body, headers=headers, timeout=30)
            if reply.status_code == 404 and index == 0:
                problems.append("photo upload answers 404 (photo API missing?); galleries stay empty")
                break
            if reply.status_code in (200, 201, 202):
                photos += 1
            elif len(problems) < 10:
                problems.append(f"photo {reply.status_code} {error_code(reply)}")
    except Exception as error:  # a seed failure must be visible, not fatal: users still run
        problems.append(f"{type(error).__name__}: {error}")
    summary = {"organisers": len(organisers), "events": created, "photos": photos, "problems": problems[:10]}
    print("EPU-LOADTEST seed " + json.dumps(summary), file=sys.stderr, flush=True)


@events.quitting.add_listener
def write_final_csv(environment, **_kwargs) -> None:
    """Locust rewrites <prefix>_stats.csv once a second and not at exit, so the last
    second would be missing; write the final figures beside it for the runner."""
    prefix = getattr(environment.parsed_options, "csv_prefix", None)
    if not prefix or environment.stats is None:
        return
    import csv

    from locust.stats import PERCENTILES_TO_REPORT, StatsCSV

    writer = StatsCSV(environment, PERCENTILES_TO_REPORT)
    with open(f"{prefix}_final_stats.csv", "w", newline="", encoding="utf-8") as file:
        writer.requests_csv(csv.writer(file))
    with open(f"{prefix}_final_failures.csv", "w", newline="", encoding="utf-8") as file:
        writer.failures_csv(csv.writer(file))


# ---------------------------------------------------------------- users


class EpuUser(FastHttpUser):
    abstract = True
    wait_time = between(WAIT_MIN, WAIT_MAX)
    # A request slower than this is a failure, not a data point that waits forever.
    network_timeout = 30.0
    connection_timeout = 10.0

    def event_id(self) -> str | None:
        event_id = POOL.pick()
        if event_id is None:
            self.list_events()
            event_id = POOL.pick()
        return event_id

    def list_events(self, follow: bool = False) -> None:
        cursor = None
        for _ in range(2 if follow else 1):
            path = "/api/v1/events?limit=20" + (f"&cursor={cursor}" if cursor else "")
            with self.client.get(path, name="/api/v1/events", catch_response=True) as response:
                _finish(response)
                data = body_json(response)
            for item in data.get("items") or []:
                if item.get("visibility") == "public" and item.get("id"):
                    POOL.add(item["id"])
            cursor = data.get("nextCursor")
            if not cursor:
                break

    def view_event_page(self, event_id: str | None = None) -> None:
        event_id = event_id or self.event_id()
        if event_id:
            with self.client.get(f"/events/{event_id}", name="/events/:id", catch_response=True) as response:
                _finish(response)

    def browse_gallery(self, event_id: str | None = None) -> None:
        event_id = event_id or self.event_id()
        if not event_id:
            return
        cursor = None
        for _page in range(3):
            path = f"/api/v1/events/{event_id}/photos?limit=20" + (f"&cursor={cursor}" if cursor else "")
            with self.client.get(path, name="/api/v1/events/:id/photos", catch_response=True) as response:
                _finish(response)
                data = body_json(response)
            items = data.get("items") or []
            # A browser shows thumbnails; fetch a few when they are served by the target itself.
            for item in items[:4]:
                url = item.get("thumbnailUrl")
                if url and self.same_origin(url):
                    with self.client.get(url, name="/media/:path (thumbnail)", catch_response=True) as response:
                        _finish(response)
            cursor = data.get("nextCursor")
            if not cursor:
                break
            time.sleep(random.uniform(WAIT_MIN, WAIT_MAX) / 2)

    def same_origin(self, url: str) -> bool:
        target, other = urlsplit(self.host), urlsplit(url)
        return not other.netloc or (other.scheme, other.netloc) == (target.scheme, target.netloc)

    def upload_photo(self, event_id: str) -> None:
        body, headers = multipart_png()
        with self.client.post(
            f"/api/v1/events/{event_id}/photos", data=body, headers=headers, name="/api/v1/events/:id/photos", catch_response=True
        ) as response:
            _finish(response, allow_429=True)


class AnonymousBrowser(EpuUser):
    weight = 60

    @task(3)
    def home(self) -> None:
        with self.client.get("/", name="/", catch_response=True) as response:
            _finish(response)

    @task(3)
    def event_list(self) -> None:
        self.list_events(follow=random.random() < 0.3)

    @task(4)
    def event_page(self) -> None:
        self.view_event_page()

    @task(2)
    def gallery(self) -> None:
        self.browse_gallery()


class Member(EpuUser):
    weight = 30

    def on_start(self) -> None:
        self.email = unique_email("member")
        self.booked: list[str] = []
        with self.client.post(
            "/api/v1/auth/signup",
            json={"email": self.email, "password": PASSWORD, "name": "Load Member"},
            name="/api/v1/auth/signup",
            catch_response=True,
        ) as response:
            _finish(response, allow_429=True)
            signed_up = response.status_code == 201
        if not signed_up:
            raise StopUser()  # its failure is in the stats; a user without an account has nothing to do
        if random.random() < 0.2:
            self.relogin()

    def relogin(self) -> None:
        with self.client.post("/api/v1/auth/logout", name="/api/v1/auth/logout", catch_response=True) as response:
            _finish(response)
        with self.client.post(
            "/api/v1/auth/login", json={"email": self.email, "password": PASSWORD}, name="/api/v1/auth/login", catch_response=True
        ) as response:
            _finish(response, allow_429=True)

    @task(4)
    def event_page(self) -> None:
        self.view_event_page()

    @task(2)
    def event_json(self) -> None:
        event_id = self.event_id()
        if event_id:
            with self.client.get(f"/api/v1/events/{event_id}", name="/api/v1/events/:id", catch_response=True) as response:
                _finish(response)

    @task(3)
    def book(self) -> None:
        full = random.random() < 1 / 8 and POOL.nearly_full
        event_id = random.choice(POOL.nearly_full) if full else self.event_id()
        if not event_id:
            return
        with self.client.post(
            f"/api/v1/events/{event_id}/bookings", name="/api/v1/events/:id/bookings", catch_response=True
        ) as response:
            _finish(response, ok_codes=("event_full",))
            if response.status_code in (200, 201) and event_id not in self.booked:
                self.booked.append(event_id)

    @task(2)
    def my_bookings(self) -> None:
        with self.client.get("/api/v1/me/bookings", name="/api/v1/me/bookings", catch_response=True) as response:
            _finish(response)

    @task(2)
    def booked_gallery(self) -> None:
        self.browse_gallery(random.choice(self.booked) if self.booked else None)

    @task(1)
    def upload(self) -> None:
        if not self.booked:
            self.book()
        if self.booked:
            self.upload_photo(random.choice(self.booked))

    @task(1)
    def cancel(self) -> None:
        if len(self.booked) < 2:
            return  # keep one booking for uploads
        event_id = self.booked.pop(random.randrange(len(self.booked)))
        with self.client.delete(
            f"/api/v1/events/{event_id}/bookings/me", name="/api/v1/events/:id/bookings/me", catch_response=True
        ) as response:
            _finish(response)

    @task(1)
    def me(self) -> None:
        with self.client.get("/api/v1/me", name="/api/v1/me", catch_response=True) as response:
            _finish(response)

    @task(1)
    def login_again(self) -> None:
        self.relogin()


class Organiser(EpuUser):
    weight = 10

    def on_start(self) -> None:
        self.own: list[str] = []
        with self.client.post(
            "/api/v1/auth/signup",
            json={"email": unique_email("organiser"), "password": PASSWORD, "name": "Load Organiser"},
            name="/api/v1/auth/signup",
            catch_response=True,
        ) as response:
            _finish(response, allow_429=True)
            signed_up = response.status_code == 201
        if not signed_up:
            raise StopUser()
        self.create_event()

    @task(1)
    def create_event(self) -> None:
        with self.client.post(
            "/api/v1/events",
            json={
                "title": f"Organised by load test {RUN_ID}",
                "description": "A gathering of simulated people.",
                "venue": "Loopback Hall",
                "startsAt": future_iso(random.uniform(1, 90)),
                "capacity": 500,
                "visibility": "public",
            },
            name="/api/v1/events",
            catch_response=True,
        ) as response:
            _finish(response)
            event_id = body_json(response).get("id")
        if event_id:
            self.own.append(event_id)
            POOL.add(event_id)

    @task(3)
    def own_page(self) -> None:
        if self.own:
            self.view_event_page(random.choice(self.own))

    @task(2)
    def own_bookings(self) -> None:
        if self.own:
            event_id = random.choice(self.own)
            with self.client.get(
                f"/api/v1/events/{event_id}/bookings?limit=20", name="/api/v1/events/:id/bookings", catch_response=True
            ) as response:
                _finish(response)

    @task(2)
    def upload(self) -> None:
        if self.own:
            self.upload_photo(random.choice(self.own))

    @task(2)
    def export(self) -> None:
        if not self.own:
            return
        event_id = random.choice(self.own)
        with self.client.post(
            f"/api/v1/events/{event_id}/exports", name="/api/v1/events/:id/exports", catch_response=True
        ) as response:
            _finish(response, allow_429=True)
            export_id = (body_json(response).get("export") or {}).get("id")
        for _ in range(20 if export_id else 0):
            time.sleep(1)
            with self.client.get(f"/api/v1/exports/{export_id}", name="/api/v1/exports/:id", catch_response=True) as response:
                _finish(response)
                state = (body_json(response).get("export") or {}).get("status")
            if response.status_code != 200 or state in ("ready", "failed"):
                break
