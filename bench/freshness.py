#!/usr/bin/env python3
"""Freshness of the collaborative list: time from a `PATCH /api/movie/{id}/meta`
answer to the first `GET /api/movie/user?reco_engine=CollaborativeFiltering`
that shows the fold-in, with ratings arriving at a fixed total rate from many
users.

Each user rates the first movie of their collaborative list (any movie while
the list is empty). The list query leaves out what the user consumed, so
right after the PATCH the list is the old one without that movie; the
fold-in rewrites the user's rows with a tenth movie in its place. "Changed"
is therefore "differs from the old list minus the rated movie", which only
the fold-in causes (a plain "page 1 changed" misses the many fold-ins whose
first page stays the same, and a rated movie shown on page 1 would change
it at once).

Starts nothing: point it at a running server with the engine on, after its
first full training (see bench/QUALITY.md for the whole procedure).

    python3 bench/freshness.py --base http://127.0.0.1:4150 --users 100 --rate 100 --seconds 30 --poll 0.1
"""

import argparse
import http.client
import json
import sys
import random
import statistics
import threading
import time
import urllib.parse


def client(base):
    u = urllib.parse.urlparse(base)
    return http.client.HTTPConnection(u.hostname, u.port, timeout=30)


def call(conn, method, path, token=None, body=None):
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = "Bearer " + token
    conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
    r = conn.getresponse()
    data = r.read()
    return r.status, data


def register(base, n):
    conn = client(base)
    status, data = call(
        conn,
        "POST",
        "/api/auth/register",
        body={"email": f"fresh{n}-{random.randrange(10**9)}@example.com", "username": f"f{n}x{random.randrange(10**6)}", "password": "goodPassword!123"},
    )
    assert status in (200, 201), data
    return json.loads(data)["access_token"]


def movie_ids(base, token):
    conn, ids = client(base), []
    for page in range(1, 6):
        _, data = call(conn, "GET", f"/api/movie?page={page}", token)
        ids += [c["content_id"] for c in json.loads(data)["content"]]
    return ids


LIST = "/api/movie/user?reco_engine=CollaborativeFiltering"


def shown_ids(data):
    return [c["content_id"] for c in json.loads(data).get("content", [])]


def user_loop(base, token, ids, period, stop, latencies, misses, poll, rtts, rated):
    """One user: every `period` seconds rate the first movie of their
    collaborative list, then poll the list until the fold-in shows."""
    conn = client(base)
    rng = random.Random()
    next_at = time.monotonic() + rng.random() * period
    while not stop.is_set():
        time.sleep(max(0.0, next_at - time.monotonic()))
        next_at += period
        _, before = call(conn, "GET", LIST, token)
        shown = shown_ids(before)
        movie = shown[0] if shown else rng.choice(ids)
        status, _ = call(conn, "PATCH", f"/api/movie/{movie}/meta", token, {"rating": rng.choice([4, 5])})
        assert status == 201, status
        answered = time.monotonic()
        rated.append(answered)
        unchanged = [i for i in shown if i != movie]
        while time.monotonic() - answered < 10:
            asked = time.monotonic()
            _, now = call(conn, "GET", LIST, token)
            rtts.append(time.monotonic() - asked)
            if shown_ids(now) != unchanged:
                latencies.append(time.monotonic() - answered)
                break
            time.sleep(poll)
        else:
            misses.append(movie)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--base", default="http://127.0.0.1:4150")
    p.add_argument("--users", type=int, default=50)
    p.add_argument("--rate", type=float, default=100.0, help="ratings per second, all users together")
    p.add_argument("--seconds", type=float, default=20.0)
    p.add_argument("--poll", type=float, default=0.1, help="seconds between list reads (see bench/QUALITY.md: 0.02 is the stress case)")
    a = p.parse_args()
    tokens = [register(a.base, n) for n in range(a.users)]
    ids = movie_ids(a.base, tokens[0])
    stop, latencies, misses, rtts, rated = threading.Event(), [], [], [], []
    period = a.users / a.rate
    threads = [
        threading.Thread(target=user_loop, args=(a.base, t, ids, period, stop, latencies, misses, a.poll, rtts, rated), daemon=True)
        for t in tokens
    ]
    started = time.monotonic()
    for t in threads:
        t.start()
    time.sleep(a.seconds)
    stop.set()
    for t in threads:
        t.join(timeout=15)
    elapsed = time.monotonic() - started
    # The rate asked of the server: ratings answered while the run lasted
    # (after it, users only finish waiting for their last fold-in, up to 10 s).
    window = a.seconds
    in_window = sum(1 for t in rated if t - started <= window)
    print(f"{in_window} ratings answered in the {window:.0f} s run ({in_window / window:.1f}/s asked {a.rate:.0f}/s)")
    latencies.sort()
    if not latencies:
        sys.exit(f"no fold-in seen; {len(misses)} lists unchanged after 10 s")
    q = lambda f: latencies[min(len(latencies) - 1, int(f * len(latencies)))] * 1000
    print(
        f"{len(latencies)} fold-ins seen in {elapsed:.1f} s from {a.users} users: "
        f"PATCH answer -> changed list p50 {q(0.5):.0f} ms, p99 {q(0.99):.0f} ms, max {latencies[-1] * 1000:.0f} ms, "
        f"mean {statistics.mean(latencies) * 1000:.0f} ms; {len(misses)} lists unchanged after 10 s"
    )
    # What one poll costs the client, answer included: a latency above is
    # at best this much longer than the fold-in itself, plus up to one poll.
    rtts.sort()
    r = lambda f: rtts[min(len(rtts) - 1, int(f * len(rtts)))] * 1000
    print(f"{len(rtts)} list reads ({len(rtts) / elapsed:.0f}/s): round trip p50 {r(0.5):.0f} ms, p99 {r(0.99):.0f} ms")


if __name__ == "__main__":
    main()
