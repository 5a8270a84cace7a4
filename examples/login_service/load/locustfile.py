"""The write-up's user journey against login_service, for Locust (Debian's python3-locust 2.12).

Every iteration is a new user's first visit: POST /login creates the account (a transaction on
one connection, the id from the table generator on a second connection of the same pool), then
POST /onboarding, POST /goal and GET /home with that id. Failed requests are marked with the
service's one-line reason ("pool timeout", "deadlock victim", ...), so Locust's failure CSV
says why, not only "503".

    locust -f locustfile.py --headless -u 20 -r 20 -t 60s --host http://127.0.0.1:8080 \
        --csv build/lab/phase2 --csv-full-history

LAB_THINK_MS (default 5) is the pause between requests of one user. LAB_HOSTS spreads the users
over a fleet: "http://127.0.0.1:8080=20,http://127.0.0.1:8081=10" sends the first 20 users to
the first instance and the next 10 to the second (users beyond the total go to --host).
"""
import itertools
import os
import uuid

from locust import HttpUser, between, task

THINK_S = int(os.environ.get("LAB_THINK_MS", "5")) / 1000.0
_user_numbers = itertools.count()


def _fleet(spec):
    """[(base URL, users)] from LAB_HOSTS; a malformed entry is an error naming it."""
    hosts = []
    for item in filter(None, spec.split(",")):
        url, _, count = item.rpartition("=")
        if not url.startswith("http") or not count.isdigit():
            raise ValueError(f"LAB_HOSTS: expected URL=USERS, got {item!r}")
        hosts.append((url, int(count)))
    return hosts


FLEET = _fleet(os.environ.get("LAB_HOSTS", ""))


def _host_of(number):
    for url, count in FLEET:
        if number < count:
            return url
        number -= count
    return None


def _checked(response, name):
    """Marks a non-2xx answer as a failure named by the service's reason; returns the JSON body."""
    if response.status_code // 100 != 2:
        reason = (response.text or "").strip().splitlines()[0:1]
        response.failure(f"{response.status_code} {reason[0] if reason else 'no body'}")
        return None
    try:
        body = response.json()
    except ValueError:
        response.failure(f"{name}: not JSON")
        return None
    response.success()
    return body


class NewUser(HttpUser):
    wait_time = between(THINK_S * 0.5, THINK_S * 1.5)

    def on_start(self):
        host = _host_of(next(_user_numbers))
        if host:
            self.client.base_url = host

    @task
    def first_visit(self):
        login = "u" + uuid.uuid4().hex[:20]
        with self.client.post("/login", json={"login": login}, name="POST /login", catch_response=True) as r:
            body = _checked(r, "login")
        if not body or not body.get("id"):
            return
        user_id = body["id"]
        for route, payload in (("/onboarding", {"id": user_id, "step": "profile"}),
                               ("/goal", {"id": user_id, "goal": "run 5k"})):
            with self.client.post(route, json=payload, name="POST " + route, catch_response=True) as r:
                if _checked(r, route) is None:
                    return
        with self.client.get("/home", params={"id": user_id}, name="GET /home", catch_response=True) as r:
            _checked(r, "home")
