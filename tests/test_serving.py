"""`kseq serve`: a real server process, spoken to over HTTP as a TF Serving client would."""

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

ARTIFACTS = REPO / "tests" / "artifacts"

pytestmark = pytest.mark.slow  # servers in their own processes


@pytest.fixture(scope="module")
def server(tiny_export):
    server = Server(tiny_export, "--max-body-mb", "0.5", "--batch-timeout-ms", "50")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def direct(tiny_export):
    from kseq.backends import load

    return load(str(tiny_export), "saved_model")


def test_status_and_metadata_are_tf_servings(server):
    status, body = server.get("/v1/models/kseq")
    assert status == 200 and body["model_version_status"][0]["state"] == "AVAILABLE"
    _, metadata = server.get("/v1/models/kseq/versions/1/metadata")
    signatures = metadata["metadata"]["signature_def"]["signature_def"]
    assert {"serving_default", "translate_beam", "translate_ids"} <= set(signatures)
    assert signatures["serving_default"]["inputs"]["text"]["dtype"] == "DT_STRING"
    assert metadata["kseq"]["task"] == "translation" and metadata["kseq"]["backend"] == "saved_model"


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


def test_concurrent_requests_are_batched_and_each_gets_its_own_rows(server, direct):
    sources, _ = held_out_sources(24)
    expected = dict(zip(sources, direct.translate(sources)[0]))
    with concurrent.futures.ThreadPoolExecutor(12) as pool:
        answers = list(pool.map(lambda text: server.post({"instances": [text]}), sources))
    assert all(status == 200 for status, _, _ in answers)
    assert [body["predictions"][0]["translation"] for _, body, _ in answers] == [expected[s] for s in sources]
    assert max(int(headers["X-Kseq-Batch-Rows"]) for _, _, headers in answers) > 1  # requests were merged


@pytest.mark.parametrize("body, status, message", [
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
])
def test_bad_requests_get_4xx_with_an_error_and_the_server_keeps_serving(server, body, status, message):
    answer_status, answer, _ = server.post(body)
    assert answer_status == status and message in answer["error"]
    assert server.post({"instances": ["Hi."]})[0] == 200


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


def test_a_client_waiting_for_100_continue_gets_413_before_it_sends_a_body_too_large(server):
    with socket.create_connection(("127.0.0.1", server.port), timeout=60) as connection:
        connection.sendall(b"POST /v1/models/kseq:predict HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
                           b"Content-Length: 100000000\r\n\r\n")
        status_line = connection.makefile("rb").readline()
    assert status_line.startswith(b"HTTP/1.1 413")


def test_max_body_mb_must_be_above_zero(capsys):
    code, _, err = run_kseq(capsys, "serve", "RUN_DIR", "--max-body-mb", "0")
    assert code == 2 and "--max-body-mb must be above 0. Received: 0.0" in err


def test_a_request_larger_than_the_batch_is_decoded_in_chunks(server, direct):
    sources, _ = held_out_sources(40)
    status, body, headers = server.post({"instances": sources})
    assert status == 200 and int(headers["X-Kseq-Batch-Rows"]) <= 32
    assert [p["translation"] for p in body["predictions"]] == direct.translate(sources)[0]


def test_wrong_model_or_version_is_404(server):
    assert server.post({"instances": ["Hi."]}, "/v1/models/other:predict")[0] == 404
    assert server.post({"instances": ["Hi."]}, "/v1/models/kseq/versions/7:predict")[0] == 404


def test_a_text_over_the_source_length_is_truncated_and_said(server):
    status, body, headers = server.post({"instances": ["Hi.", "one " * 200]})
    assert status == 200 and len(body["predictions"]) == 2 and headers["X-Kseq-Truncated"] == "1"


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


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=JSON)
def test_random_json_gets_json_and_a_2xx_or_4xx(server, body):
    status, answer, _ = server.post(body)
    assert 200 <= status < 300 or 400 <= status < 500
    assert isinstance(answer, dict)


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
