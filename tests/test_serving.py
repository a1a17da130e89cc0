"""`kseq serve`: the app in process with a fake model, then a real server process, spoken to over HTTP as a
TF Serving client would."""

import asyncio
import concurrent.futures
import json
import os
import signal
import socket
import urllib.error
import urllib.request

import pytest
from conftest import REPO, Server, held_out_sources, run_kseq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kseq.served_model import IDS_SIGNATURE, TEXT_SIGNATURE

ARTIFACTS = REPO / "tests" / "artifacts"

# Bad requests and what the server answers, in process and in its own process (--max-body-mb 0.5).
BAD_REQUESTS = [
    (b"{not json", 400, "not valid JSON"),
    ({"signature_name": "nope", "instances": ["Hi."]}, 400, "nope"),
    ({"instances": [{"source": "Hi."}]}, 400, "\"text\""),
    ({"instances": [3]}, 400, "takes strings"),
    ({"instances": []}, 400, "no instances"),
    ({"inputs": {"words": ["Hi."]}}, 400, "lacks \"text\""),
    ({"instances": ["Hi."], "inputs": ["Hi."]}, 400, "exactly one"),
    ({"signature_name": "translate_ids", "instances": [["a"]]}, 400, "lists of 1 to"),
    ({"signature_name": "translate_ids", "instances": [[5] * 500]}, 400, "lists of 1 to"),
    ({"signature_name": "translate_ids", "instances": [[10**6]]}, 400, "each in [0, "),
    (b'{"instances": ["\\ud800"]}', 400, "not valid Unicode"),
    ({"instances": ["x" * 600_000]}, 413, "--max-body-mb 0.5"),
]


# --- The app in process, with a fake model: no TensorFlow, no server process ---


class FakeModel:
    """A `ServedModel` that upper-cases its texts; "boom" breaks it."""

    signatures = {"serving_default": (TEXT_SIGNATURE, None), "translate_ids": (IDS_SIGNATURE, None)}
    version, vocabulary_size, max_source_length = 3, 100, 8
    summary = {"task": "translation", "output_key": "translation_text", "backend": "fake"}

    def run(self, signature, values):
        if "boom" in values:
            raise RuntimeError("the model broke")
        if signature == "translate_ids":
            return {"ids": [row[::-1] for row in values]}
        return {"translation": [value.upper() for value in values], "ids": [[len(value)] for value in values]}

    def truncated(self, texts):
        return [i for i, text in enumerate(texts) if len(text) > 10]


def call_app(*requests, **options):
    """(method, path[, body]) requests to `create_app(FakeModel(), "fake", ...)`, through ASGI, with its
    start-up and shut-down -> (status, headers, body) of each; a JSON body is parsed."""
    from kseq.serving import MB, create_app

    app = create_app(FakeModel(), "fake", **{"max_body_bytes": MB // 2, **options})

    async def request(method, path, body=b""):
        body = body if isinstance(body, bytes) else json.dumps(body).encode()
        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
                 "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
                 "headers": [(b"host", b"test"), (b"content-length", str(len(body)).encode())],
                 "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80)}
        messages, sent = [{"type": "http.request", "body": body, "more_body": False}], []

        async def receive():
            return messages.pop(0) if messages else {"type": "http.disconnect"}

        async def send(message):
            sent.append(message)

        try:
            await app(scope, receive, send)
        except Exception:  # after a 500, Starlette raises the failure again for the server to log
            if not sent:
                raise
        headers = {key.decode(): value.decode() for key, value in sent[0]["headers"]}
        answer = b"".join(message.get("body", b"") for message in sent[1:])
        return sent[0]["status"], headers, json.loads(answer) if "json" in headers["content-type"] else answer

    async def lifespan_around_requests():
        events, started, sent = asyncio.Queue(), asyncio.Event(), []

        async def send(message):
            sent.append(message["type"])
            started.set()

        lifespan = asyncio.create_task(app({"type": "lifespan", "asgi": {"version": "3.0"}}, events.get, send))
        events.put_nowait({"type": "lifespan.startup"})
        await started.wait()
        answers = [await request(*r) for r in requests]
        events.put_nowait({"type": "lifespan.shutdown"})
        await lifespan
        assert sent == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
        return answers

    return asyncio.run(lifespan_around_requests())


def test_the_app_answers_status_metadata_and_predict_as_tf_serving_does():
    status, metadata, row, columnar, ids = call_app(
        ("GET", "/v1/models/fake"), ("GET", "/v1/models/fake/versions/3/metadata"),
        ("POST", "/v1/models/fake:predict", {"instances": [{"text": "hi"}, "a very long text"]}),
        ("POST", "/v1/models/fake/versions/3:predict", {"inputs": {"text": ["hi", "yo"]}}),
        ("POST", "/v1/models/fake:predict", {"signature_name": "translate_ids", "inputs": [[1, 2, 3]]}))
    assert status[0] == 200 and status[2] == {"model_version_status": [
        {"version": "3", "state": "AVAILABLE", "status": {"error_code": "OK", "error_message": ""}}]}
    signatures = metadata[2]["metadata"]["signature_def"]["signature_def"]
    assert metadata[2]["model_spec"] == {"name": "fake", "signature_name": "", "version": "3"}
    assert signatures["serving_default"] == {
        "inputs": {"text": {"dtype": "DT_STRING", "name": "text"}},
        "outputs": {"translation": {"dtype": "DT_STRING", "name": "translation"},
                    "ids": {"dtype": "DT_INT32", "name": "ids"}},
        "method_name": "tensorflow/serving/predict"}
    assert metadata[2]["kseq"] == FakeModel.summary
    assert row[0] == 200 and row[2] == {"predictions": [{"translation": "HI", "ids": [2]},
                                                        {"translation": "A VERY LONG TEXT", "ids": [16]}]}
    assert row[1]["x-kseq-truncated"] == "1" and row[1]["x-kseq-batch-rows"] == "2"
    assert columnar[0] == 200 and columnar[2] == {"outputs": {"translation": ["HI", "YO"], "ids": [[2], [2]]}}
    assert "x-kseq-truncated" not in columnar[1]
    assert ids[0] == 200 and ids[2] == {"outputs": {"ids": [[3, 2, 1]]}}


@pytest.mark.parametrize("body, status, message", BAD_REQUESTS)
def test_the_app_answers_a_bad_request_with_4xx_and_an_error(body, status, message):
    answer, good = call_app(("POST", "/v1/models/fake:predict", body),
                            ("POST", "/v1/models/fake:predict", {"instances": ["Hi."]}))
    assert answer[0] == status and message in answer[2]["error"]
    assert good[0] == 200


def test_the_app_answers_another_model_or_version_with_404_and_a_model_failure_with_500():
    (other, _, other_error), (version, _, version_error), (broken, _, broken_error) = call_app(
        ("GET", "/v1/models/other"), ("POST", "/v1/models/fake/versions/7:predict", {"instances": ["Hi."]}),
        ("POST", "/v1/models/fake:predict", {"instances": ["boom"]}))
    assert other == 404 and other_error["error"].endswith("this server serves fake.")
    assert version == 404 and version_error["error"].endswith("version 3 is served.")
    assert broken == 500 and broken_error == {"error": "RuntimeError: the model broke"}


def test_the_page_is_the_static_file_speaking_to_the_served_model():
    [(status, headers, page)] = call_app(("GET", "/"))
    assert status == 200 and headers["content-type"].startswith("text/html")
    assert page.decode().startswith("<!doctype html>") and b"const model = \"fake\";" in page


def test_max_body_mb_must_be_above_zero(capsys):
    code, _, err = run_kseq(capsys, "serve", "RUN_DIR", "--max-body-mb", "0")
    assert code == 2 and "--max-body-mb must be above 0. Received: 0.0" in err


# --- A real server process on the tiny run's exports ---


@pytest.fixture(scope="session")
def server(tiny_export):
    server = Server(tiny_export, "--max-body-mb", "0.5", "--batch-timeout-ms", "50")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def direct(tiny_export):
    from kseq.backends import load

    return load(str(tiny_export), "saved_model")


@pytest.mark.slow
def test_status_and_metadata_are_tf_servings(server):
    status, body = server.get("/v1/models/kseq")
    assert status == 200 and body["model_version_status"][0]["state"] == "AVAILABLE"
    _, metadata = server.get("/v1/models/kseq/versions/1/metadata")
    signatures = metadata["metadata"]["signature_def"]["signature_def"]
    assert {"serving_default", "translate_beam", "translate_ids"} <= set(signatures)
    assert signatures["serving_default"]["inputs"]["text"]["dtype"] == "DT_STRING"
    assert metadata["kseq"]["task"] == "translation" and metadata["kseq"]["backend"] == "saved_model"


@pytest.mark.slow
def test_a_tf_serving_client_works_unchanged(server, direct):
    """The README's curl request, and the columnar format, answer as the SavedModel does."""
    texts = ["Where is the station?", "Thank you."]
    status, body, _ = server.post({"signature_name": "serving_default",
                                   "instances": [{"text": text} for text in texts]})
    translations, ids = direct.translate(texts)
    assert status == 200
    assert body == {"predictions": [{"translation": t, "ids": i} for t, i in zip(translations, ids.tolist())]}
    status, body, _ = server.post({"inputs": {"text": texts}}, "/v1/models/kseq/versions/1:predict")
    assert status == 200 and body == {"outputs": {"translation": translations, "ids": ids.tolist()}}
    status, body, _ = server.post({"signature_name": "translate_ids", "instances": [[5, 6, 3]]})
    assert status == 200 and len(body["predictions"][0]["ids"]) == len(ids[0])


@pytest.mark.slow
def test_concurrent_requests_are_batched_and_each_gets_its_own_rows(server, direct):
    sources, _ = held_out_sources(24)
    expected = dict(zip(sources, direct.translate(sources)[0]))
    with concurrent.futures.ThreadPoolExecutor(12) as pool:
        answers = list(pool.map(lambda text: server.post({"instances": [text]}), sources))
    assert all(status == 200 for status, _, _ in answers)
    assert [body["predictions"][0]["translation"] for _, body, _ in answers] == [expected[s] for s in sources]
    assert max(int(headers["X-Kseq-Batch-Rows"]) for _, _, headers in answers) > 1  # requests were merged


@pytest.mark.slow
@pytest.mark.parametrize("body, status, message", BAD_REQUESTS)
def test_bad_requests_get_4xx_with_an_error_and_the_server_keeps_serving(server, body, status, message):
    answer_status, answer, _ = server.post(body)
    assert answer_status == status and message in answer["error"]
    assert server.post({"instances": ["Hi."]})[0] == 200


@pytest.mark.slow
def test_a_body_over_max_body_mb_gets_413_not_a_connection_reset(server):
    """With a Content-Length, then chunked. urllib says `Connection: close`, so a server that answers and closes
    with the body unread resets the connection while the client still sends. 16 MB (32 times the limit) is more
    than the loopback's socket buffers hold: a body they swallow whole (2 MB) is rarely reset."""
    body = json.dumps({"instances": ["x" * (16 << 20)]}).encode()
    chunks = (body[i : i + 65536] for i in range(0, len(body), 65536))  # no Content-Length: chunked
    for data in (body, chunks):
        request = urllib.request.Request(server.url + "/v1/models/kseq:predict", data=data, method="POST")
        with pytest.raises(urllib.error.HTTPError) as answer:
            urllib.request.urlopen(request, timeout=60)
        assert answer.value.code == 413 and "--max-body-mb 0.5" in json.loads(answer.value.read())["error"]
        assert server.post({"instances": ["Hi."]})[0] == 200


@pytest.mark.slow
def test_a_client_waiting_for_100_continue_gets_413_before_it_sends_a_body_too_large(server):
    with socket.create_connection(("127.0.0.1", server.port), timeout=60) as connection:
        connection.sendall(b"POST /v1/models/kseq:predict HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
                           b"Content-Length: 100000000\r\n\r\n")
        status_line = connection.makefile("rb").readline()
    assert status_line.startswith(b"HTTP/1.1 413")


@pytest.mark.slow
def test_a_request_larger_than_the_batch_is_decoded_in_chunks(server, direct):
    sources, _ = held_out_sources(40)
    status, body, headers = server.post({"instances": sources})
    assert status == 200 and int(headers["X-Kseq-Batch-Rows"]) <= 32
    assert [p["translation"] for p in body["predictions"]] == direct.translate(sources)[0]


@pytest.mark.slow
def test_wrong_model_or_version_is_404(server):
    assert server.post({"instances": ["Hi."]}, "/v1/models/other:predict")[0] == 404
    assert server.post({"instances": ["Hi."]}, "/v1/models/kseq/versions/7:predict")[0] == 404


@pytest.mark.slow
def test_a_text_over_the_source_length_is_truncated_and_said(server):
    status, body, headers = server.post({"instances": ["Hi.", "one " * 200]})
    assert status == 200 and len(body["predictions"]) == 2 and headers["X-Kseq-Truncated"] == "1"


@pytest.mark.slow
def test_a_client_that_disconnects_mid_request_does_not_hurt(server):
    with socket.create_connection(("127.0.0.1", server.port)) as connection:
        connection.sendall(b"POST /v1/models/kseq:predict HTTP/1.1\r\nHost: x\r\n"
                           b"Content-Length: 1000\r\n\r\n{\"instances\": [")
    assert server.post({"instances": ["Hi."]})[0] == 200


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
                    lambda children: st.lists(children, max_size=4)
                    | st.dictionaries(st.sampled_from(["instances", "inputs", "signature_name", "text",
                                                       "source_ids"]) | st.text(max_size=5), children, max_size=4),
                    max_leaves=12)


@pytest.mark.slow
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=JSON)
def test_random_json_gets_json_and_a_2xx_or_4xx(server, body):
    status, answer, _ = server.post(body)
    assert 200 <= status < 300 or 400 <= status < 500
    assert isinstance(answer, dict)


@pytest.mark.slow
def test_sigterm_lets_the_request_in_flight_finish(tiny_export):
    """SIGTERM once the server asks for the body (`100 Continue`): the request is in flight, no sleep needed."""
    server = Server(tiny_export, "--batch-timeout-ms", "1500")  # the request then waits 1.5 s for company
    body = json.dumps({"instances": ["Hi."]}).encode()
    with socket.create_connection(("127.0.0.1", server.port), timeout=60) as connection:
        connection.sendall(b"POST /v1/models/kseq:predict HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
                           b"Content-Length: %d\r\n\r\n" % len(body))
        reader = connection.makefile("rb")
        assert reader.readline().startswith(b"HTTP/1.1 100") and reader.readline() == b"\r\n"
        server.process.send_signal(signal.SIGTERM)
        connection.sendall(body)
        head, _, answer = reader.read().partition(b"\r\n\r\n")  # the server closes the connection after it
    assert head.startswith(b"HTTP/1.1 200") and json.loads(answer)["predictions"][0]["translation"]
    # uvicorn re-raises the signal once it has shut down cleanly.
    assert server.process.wait(timeout=60) in (0, -signal.SIGTERM)
    assert "Traceback" not in server.process.stderr.read()


@pytest.mark.slow
def test_the_page_translates_in_a_real_browser(server):
    """Headless Chromium (Debian's package) driven by Playwright: type, press, read."""
    from playwright.sync_api import sync_playwright

    texts = ["I have twenty-one cats.", "She bought three houses."]
    expected = [p["translation"] for p in server.post({"instances": texts})[1]["predictions"]]
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=os.environ.get("CHROMIUM", "/usr/bin/chromium"),
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run"])
        page = browser.new_page()
        page.goto(server.url + "/")
        page.wait_for_function("document.getElementById('go').textContent === 'Translate'")
        page.fill("#text", f"{texts[0]}\n\n{texts[1]}")  # each line its own input; the blank one stays
        page.click("#go")
        page.wait_for_function("document.getElementById('output').textContent.length > 0")
        shown = page.text_content("#output")
        assert "backend saved_model" in page.text_content("#meta")
        page.screenshot(path=str(ARTIFACTS / "serve_page.png"))
        browser.close()
    assert shown == f"{expected[0]}\n\n{expected[1]}"
