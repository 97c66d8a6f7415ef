"""NetSuite REST client: record writes and reads, SuiteQL, governance limits.

Exactly one HTTP attempt per call: no urllib3 retries and no redirects followed, because every
attempt must be paid for with a token from the caller's per-account governor. Every result and
every error carries an `Exchange` for the audit log (never headers, so never secrets).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from nue_ns.netsuite import batch_shapes
from nue_ns.netsuite.auth import rest_base_url
from nue_ns.netsuite.errors import Exchange, Kind, NetSuiteError, classify_response, transient
from nue_ns.safe_text import clip, clip_json

MAX_LOGGED_BODY = 20 * 1024  # characters of a response body kept in an Exchange
POOL_SIZE = 64  # connections per host: many worker threads share one client

_TYPE = re.compile(r"^[A-Za-z]+$")
_EXTERNAL_ID = re.compile(r"^[A-Za-z0-9_-]{1,255}$")
_INTERNAL_ID = re.compile(r"^[0-9]+$")
# NetSuite internal ids are integers (docs/NETSUITE.md); the hub holds 40 characters. Anything
# else in a Location is a malformed answer, never a success.
_LOCATION_ID = re.compile(r"^[0-9]{1,20}$")

_HEADERS = {
    "Accept": "application/json",
    "Content-Type": "application/json",
    # Without it NetSuite ignores a misspelt field with only a warning header. The value is one of
    # the header parameter's enum in NetSuite's OpenAPI document, in its case: Error, Warning, Ignore.
    "X-NetSuite-PropertyNameValidation": "Error",
}


@dataclass(frozen=True)
class WriteResult:
    internal_id: str
    exchange: Exchange


def _check_type(ns_type: str) -> str:
    if not isinstance(ns_type, str) or not _TYPE.fullmatch(ns_type):
        raise ValueError(f"ns_type {ns_type!r}: expected a camelCase record type such as 'salesOrder'")
    return ns_type


def _check_external_id(external_id: object) -> str:
    if not isinstance(external_id, str) or not _EXTERNAL_ID.fullmatch(external_id):
        raise ValueError(f"external_id {external_id!r}: expected 1-255 of A-Z a-z 0-9 _ -")
    return external_id


def _check_internal_id(ref: str, name: str) -> str:
    """An internal id ("123") only: the path of a transform takes no other form (NetSuite's OpenAPI,
    `/invoice/{id}/!transform/creditMemo`: `id` "Internal identifier", an integer)."""
    if isinstance(ref, str) and _INTERNAL_ID.fullmatch(ref):
        return ref
    raise ValueError(f"{name} {ref!r}: expected a NetSuite internal id such as '123' (no 'eid:' here)")


def _check_ref(ref: str, name: str) -> str:
    """An internal id ("123") or an external id reference ("eid:X")."""
    if isinstance(ref, str) and ref.startswith("eid:") and _EXTERNAL_ID.fullmatch(ref[4:]):
        return ref
    if isinstance(ref, str) and _INTERNAL_ID.fullmatch(ref):
        return ref
    raise ValueError(f"{name} {ref!r}: expected an internal id such as '123' or 'eid:EXTERNAL_ID'")


def _check_async_id(value: str, name: str) -> str:
    """A job or task id: what batch_shapes reads from NetSuite's answers, one path segment."""
    if isinstance(value, str) and batch_shapes.ASYNC_ID.fullmatch(value):
        return value
    raise ValueError(f"{name} {value!r}: expected 1 to 40 letters, digits, _ or -")


def _check_sublists(replace: Iterable[str]) -> list[str]:
    names = [replace] if isinstance(replace, str) else list(replace)
    for name in names:
        if not isinstance(name, str) or not _TYPE.fullmatch(name):
            raise ValueError(f"replace {name!r}: expected sublist names such as 'item' or 'apply'")
    return names


def _new_session() -> requests.Session:
    # total=0 / read=False: a failed attempt is raised at once, never silently repeated.
    no_retries = Retry(total=0, read=False, redirect=False, respect_retry_after_header=False)
    adapter = HTTPAdapter(pool_connections=4, pool_maxsize=POOL_SIZE, max_retries=no_retries)
    session = requests.Session()
    # No proxy/netrc lookup from the environment on every call (it costs more CPU than the call's
    # own bookkeeping); NetSuite is reached directly.
    session.trust_env = False
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


def _where(exchange: Exchange) -> str:
    """Method and URL path, as error messages name a request."""
    return f"{exchange.method} {urlsplit(exchange.url).path}"


def _text(response: requests.Response) -> str:
    # NetSuite's error type (application/vnd.oracle.resource+json) names no charset: it is UTF-8.
    return response.content.decode(response.encoding or "utf-8", errors="replace")


def _parsed(response: requests.Response) -> Any:
    try:
        return json.loads(response.content) if response.content else None
    except (ValueError, RecursionError):  # RecursionError: nested past the stack
        return None


def _logged_body(text: str, content_type: str) -> Any:
    """What the audit log keeps of a response body: parsed JSON when small enough, else text."""
    if not text:
        return None
    if len(text) > MAX_LOGGED_BODY:
        return clip(text, MAX_LOGGED_BODY)  # notes the raw length
    if "json" in content_type:
        try:
            return clip_json(json.loads(text))
        except (ValueError, RecursionError):
            pass
    return clip(text, MAX_LOGGED_BODY)


def lower_names(page: dict[str, Any]) -> dict[str, Any]:
    """A SuiteQL page whose items' names are lower case, whatever NetSuite sent: the casing of
    result names "may not always be consistent and can change", so "don't depend on name casing"
    (Oracle, section_156257796125). Every reader of a SuiteQL answer reads it through here."""
    items = page.get("items")
    if not isinstance(items, list):
        return page
    lowered = [{str(k).lower(): v for k, v in i.items()} if isinstance(i, dict) else i for i in items]
    return {**page, "items": lowered}  # a copy: the attempt log keeps what NetSuite sent


class NetSuiteClient:
    """A small typed client for one NetSuite account; thread-safe, share one per account."""

    def __init__(
        self,
        account_id: str,
        auth: requests.auth.AuthBase,
        rest_url: str | None = None,
        timeout: float = 60.0,
        session: requests.Session | None = None,
    ) -> None:
        self.account_id = account_id
        self.base_url = rest_base_url(account_id, rest_url)
        self.timeout = timeout
        self._auth = auth
        # A session passed in is used as it is (e.g. one mounted on an in-process transport).
        self._owns_session = session is None
        self._session = session if session is not None else _new_session()

    def __repr__(self) -> str:
        return f"NetSuiteClient(account_id={self.account_id!r}, base_url={self.base_url!r})"

    def close(self) -> None:
        if self._owns_session:
            self._session.close()

    # -- record API -------------------------------------------------------------------------

    def upsert(
        self, ns_type: str, external_id: str, body: dict[str, Any], replace: Iterable[str] = ()
    ) -> WriteResult:
        """Create or update by external id (`PUT .../eid:X`): the only write that is safe to retry.

        `replace` names sublists (e.g. item, apply) whose lines replace the record's lines instead
        of being added to them.
        """
        path = f"/record/v1/{_check_type(ns_type)}/eid:{_check_external_id(external_id)}"
        sublists = _check_sublists(replace)
        query = {"replace": ",".join(sublists)} if sublists else None
        response, exchange = self._send("PUT", path, body=body, query=query)
        return WriteResult(self._location_id(response, exchange), exchange)

    def create(self, ns_type: str, body: dict[str, Any]) -> WriteResult:
        """`POST /{type}`. Not idempotent: a retry after a lost answer can duplicate the record."""
        response, exchange = self._send("POST", f"/record/v1/{_check_type(ns_type)}", body=body)
        return WriteResult(self._location_id(response, exchange), exchange)

    def transform(
        self,
        source_type: str,
        source_id: str,
        target_type: str,
        body: dict[str, Any],
        replace: Iterable[str] = (),
    ) -> WriteResult:
        """`POST /{source}/{id}/!transform/{target}`: a new record made from an existing one
        [section_157901123882]. Not idempotent: put the new record's externalId in `body`, so a
        repeat fails on NetSuite's uniqueness of external ids instead of making a second record.
        The source is named by its internal id: no page says a transform takes `eid:`."""
        path = (
            f"/record/v1/{_check_type(source_type)}/{_check_internal_id(source_id, 'source_id')}"
            f"/!transform/{_check_type(target_type)}"
        )
        sublists = _check_sublists(replace)
        query = {"replace": ",".join(sublists)} if sublists else None
        response, exchange = self._send("POST", path, body=body, query=query)
        return WriteResult(self._location_id(response, exchange), exchange)

    def update(
        self, ns_type: str, ref: str, body: dict[str, Any], replace: Iterable[str] = ()
    ) -> WriteResult:
        """`PATCH /{type}/{id}`: omitted fields stay, keyed sublist lines are matched by key."""
        path = f"/record/v1/{_check_type(ns_type)}/{_check_ref(ref, 'ref')}"
        sublists = _check_sublists(replace)
        query = {"replace": ",".join(sublists)} if sublists else None
        response, exchange = self._send("PATCH", path, body=body, query=query)
        internal_id = ref if _INTERNAL_ID.fullmatch(ref) else self._location_id(response, exchange)
        return WriteResult(internal_id, exchange)

    def get(self, ns_type: str, ref: str, expand: bool = False) -> tuple[dict[str, Any], Exchange]:
        """Read a record by internal id ("123") or external id ("eid:X"). Sublists come back as
        links unless `expand` (`expandSubResources=true` [section_1545141947])."""
        path = f"/record/v1/{_check_type(ns_type)}/{_check_ref(ref, 'ref')}"
        response, exchange = self._send("GET", path, query={"expandSubResources": "true"} if expand else None)
        return self._json_object(response, exchange), exchange

    def delete(self, ns_type: str, internal_id: str) -> Exchange:
        """Delete a record by internal id ("123") or external id ("eid:X")."""
        path = f"/record/v1/{_check_type(ns_type)}/{_check_ref(internal_id, 'internal_id')}"
        return self._send("DELETE", path)[1]

    # -- metadata ---------------------------------------------------------------------------

    def metadata(self, ns_types: Sequence[str]) -> tuple[dict[str, Any], Exchange]:
        """The account's metadata catalog as OpenAPI 3.0 for just these record types: their body
        and sublist fields, custom fields included (`?select=` with `Accept:
        application/swagger+json`, section_1545126526)."""
        names = ",".join(_check_type(t) for t in ns_types)
        response, exchange = self._send(
            "GET",
            "/record/v1/metadata-catalog",
            query={"select": names},
            headers={"Accept": "application/swagger+json"},
        )
        return self._json_object(response, exchange), exchange

    # -- batches and async jobs ([article_0127092747], [subsect_161278579295]) -------------------

    def batch_upsert(
        self, ns_type: str, items: list[dict[str, Any]], idempotency_key: str, replace: Iterable[str] = ()
    ) -> tuple[str, Exchange]:
        """Upsert up to 100 records of one type in one async request; returns the job id.

        Each item carries its externalId ("PUT requests only support external ID for the upsert
        operation" [article_0127092747]). A key already used answers with the earlier job
        [subsect_164494900632]: that is the same job, not an error."""
        if not 1 <= len(items) <= batch_shapes.MAX_ITEMS:
            raise ValueError(f"a batch holds 1 to {batch_shapes.MAX_ITEMS} items, not {len(items)}")
        for i, item in enumerate(items):
            _check_external_id(item.get("externalId") if isinstance(item, dict) else None)
            if not isinstance(item, dict):
                raise ValueError(f"items[{i}]: a JSON object is expected")
        sublists = _check_sublists(replace)
        query = {"replace": ",".join(sublists)} if sublists else None
        headers = {
            "Prefer": "respond-async",
            "Content-Type": batch_shapes.COLLECTION_TYPE,
            "X-NetSuite-Idempotency-Key": idempotency_key,
        }

        def same_job(response: requests.Response) -> bool:
            body = _parsed(response)
            return (
                batch_shapes.duplicate_key_job(response.status_code, body, response.headers.get("Location"))
                is not None
            )

        response, exchange = self._send(
            "PUT", f"/record/v1/{_check_type(ns_type)}", body={"items": items}, query=query, headers=headers,
            accept=same_job,
        )  # fmt: skip
        job_id = batch_shapes.job_id_from_location(response.headers.get("Location"))
        if job_id is None:
            raise transient(
                f"{_where(exchange)} answered {response.status_code} without a job Location", exchange
            )
        return job_id, exchange

    def job(self, job_id: str) -> tuple[dict[str, Any], Exchange]:
        """`GET /async/v1/job/{id}`: completed, progress [subsect_161278579295]."""
        response, exchange = self._send("GET", f"/async/v1/job/{_check_async_id(job_id, 'job_id')}")
        return self._json_object(response, exchange), exchange

    def job_tasks(self, job_id: str, limit: int = 1000, offset: int = 0) -> tuple[dict[str, Any], Exchange]:
        """`GET /async/v1/job/{id}/task`: the job's tasks [subsect_161252896355]."""
        path = f"/async/v1/job/{_check_async_id(job_id, 'job_id')}/task"
        response, exchange = self._send("GET", path, query={"limit": limit, "offset": offset})
        return self._json_object(response, exchange), exchange

    def task_result(self, job_id: str, task_id: str) -> tuple[tuple[int, Any, str | None], Exchange]:
        """`GET .../task/{tid}/result` [subsect_161252896355]: (status, body, Location), whatever the
        status, since a failed record's result is its error (a 5xx or 429 still raises)."""
        job, task = _check_async_id(job_id, "job_id"), _check_async_id(task_id, "task_id")
        path = f"/async/v1/job/{job}/task/{task}/result"
        response, exchange = self._send(
            "GET", path, accept=lambda r: 200 <= r.status_code < 500 and r.status_code not in (401, 404, 429)
        )
        return (response.status_code, _parsed(response), response.headers.get("Location")), exchange

    # -- queries ----------------------------------------------------------------------------

    def suiteql(self, query: str, limit: int = 1000, offset: int = 0) -> tuple[dict[str, Any], Exchange]:
        """One page of a SuiteQL query (items, count, offset, hasMore, totalResults, links). The body
        is `{"q": ...}` and nothing else: REST SuiteQL documents no other body parameter
        (section_157909186990), so values go into the query as literals (netsuite/literals.py)."""
        if not 1 <= limit <= 1000:
            raise ValueError(f"limit {limit}: must be between 1 and 1000")
        if offset < 0 or offset % limit:
            raise ValueError(f"offset {offset}: must be a non-negative multiple of limit {limit}")
        response, exchange = self._send(
            "POST",
            "/query/v1/suiteql",
            body={"q": query},
            query={"limit": limit, "offset": offset},
            headers={"Prefer": "transient"},
        )
        return lower_names(self._json_object(response, exchange)), exchange

    def governance_limits(self) -> tuple[dict[str, Any], Exchange]:
        """accountConcurrencyLimit and integrationConcurrencyLimit (admin roles only)."""
        response, exchange = self._send("GET", "/system/v1/governanceLimits")
        return self._json_object(response, exchange), exchange

    # -- one HTTP attempt -------------------------------------------------------------------

    def _send(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        query: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        accept: Callable[[requests.Response], bool] | None = None,
    ) -> tuple[requests.Response, Exchange]:
        """One attempt; a non-2xx answer raises, unless `accept` takes it as an answer."""
        url = f"{self.base_url}{path}" + (f"?{urlencode(query, safe=',')}" if query else "")
        exchange = Exchange(method, url, request_body=body)
        where = _where(exchange)
        started = time.perf_counter()
        try:
            response = self._session.request(
                method,
                url,
                json=body,  # JSON, not form: the body stays out of the OAuth 1.0a signature
                headers={**_HEADERS, **(headers or {})},
                auth=self._auth,
                timeout=self.timeout,
                allow_redirects=False,  # a followed redirect would be a second, ungoverned attempt
            )
        except requests.Timeout as exc:
            detail = f"timeout ({type(exc).__name__}) after {self.timeout:g}s on {where}"
            raise transient(detail, exchange) from exc
        except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError) as exc:
            raise transient(f"connection failed ({type(exc).__name__}) on {where}", exchange) from exc
        except requests.RequestException as exc:  # an answer requests cannot read (bad encoding, header)
            raise transient(f"unreadable answer ({type(exc).__name__}) on {where}", exchange) from exc
        finally:
            exchange.elapsed_ms = round((time.perf_counter() - started) * 1000, 1)
        text = _text(response)
        exchange.status = response.status_code
        exchange.response_body = _logged_body(text, response.headers.get("Content-Type", ""))
        if not 200 <= response.status_code < 300 and not (accept is not None and accept(response)):
            raise classify_response(response.status_code, text, exchange, response.headers.get("Retry-After"))
        return response, exchange

    @staticmethod
    def _location_id(response: requests.Response, exchange: Exchange) -> str:
        """Internal id from `Location: .../{type}/{internalId}` of a 204 write."""
        location = response.headers.get("Location", "")
        internal_id = urlsplit(location).path.rstrip("/").rsplit("/", 1)[-1] if location else ""
        if not internal_id:
            detail = f"{_where(exchange)} answered {response.status_code} without a Location header"
            raise transient(detail, exchange)
        if not _LOCATION_ID.fullmatch(internal_id):
            # The write may well have committed: a person must look, a retry would not know more.
            shown = clip(internal_id, 60)
            detail = (
                f"malformed answer: {_where(exchange)} answered {response.status_code} with a Location "
                "whose internal id is not a number of at most 20 digits "
                f"({len(internal_id)} characters: {shown})"
            )
            raise NetSuiteError(
                Kind.NEEDS_PERSON, detail, response.status_code, "MALFORMED_ANSWER", exchange=exchange
            )
        return internal_id

    @staticmethod
    def _json_object(response: requests.Response, exchange: Exchange) -> dict[str, Any]:
        try:
            data = json.loads(response.content)
        except (ValueError, RecursionError):  # RecursionError: nested past the stack
            data = None
        if not isinstance(data, dict):
            detail = f"{_where(exchange)} answered {response.status_code} without a JSON object"
            raise transient(detail, exchange)
        return data
