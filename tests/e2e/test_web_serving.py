"""How ``rltrack serve`` serves the built dashboard: the app at every route of its own, hashed
assets cached for good and gzipped, the API's paths left to the API."""

from __future__ import annotations

import gzip
import re

import httpx

from tests.e2e.conftest import Site


def asset_paths(html: str) -> list[str]:
    return re.findall(r'(?:src|href)="(/assets/[^"]+)"', html)


def test_app_routes_answer_the_app(site: Site) -> None:
    with httpx.Client(base_url=site.base_url, timeout=30) as client:
        for path in ("/", "/runs/some-run", "/episodes/12", "/compare?run_ids=a,b", "/nope"):
            r = client.get(path)
            assert r.status_code == 200, path
            assert r.headers["content-type"].startswith("text/html")
            assert '<div id="root">' in r.text
            assert r.headers["cache-control"] == "no-cache"
        # The build stamp is not served; the app's page is.
        assert '<div id="root">' in client.get("/.rltrack-built").text


def test_assets_are_immutable_and_gzipped_when_accepted(site: Site) -> None:
    with httpx.Client(base_url=site.base_url, timeout=30) as client:
        paths = asset_paths(client.get("/").text)
        assert any(p.endswith(".js") for p in paths) and any(p.endswith(".css") for p in paths)
        for path in paths:
            plain = client.get(path, headers={"Accept-Encoding": "identity"})
            assert plain.status_code == 200
            assert plain.headers["cache-control"] == "public, max-age=31536000, immutable"
            assert "content-encoding" not in plain.headers
            raw = client.get(path, headers={"Accept-Encoding": "gzip"}).read()
            packed = client.build_request("GET", path, headers={"Accept-Encoding": "gzip"})
            response = client.send(packed, stream=True)
            body = b"".join(response.iter_raw())
            response.close()
            assert response.headers["content-encoding"] == "gzip"
            assert response.headers["vary"] == "Accept-Encoding"
            assert gzip.decompress(body) == plain.content == raw
            assert len(body) < len(plain.content) / 2
        js = next(p for p in paths if p.endswith(".js"))
        assert client.get(js).headers["content-type"].startswith("text/javascript")


def test_api_paths_stay_the_apis(site: Site) -> None:
    with httpx.Client(base_url=site.base_url, timeout=30) as client:
        r = client.get("/api/no-such-route")
        assert r.status_code == 404
        assert r.headers["content-type"].startswith("application/json")
        assert client.get("/api/health").json()["status"]
