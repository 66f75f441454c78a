"""The closing writer: closings run one after the other in one thread, at most in_flight wait, drain waits for all."""

from __future__ import annotations

import threading
import time

import pytest

from workers.closing_writer import ClosingWriter


@pytest.fixture
def writer():
    made = []

    def make(in_flight=1):
        made.append(ClosingWriter(in_flight))
        return made[-1]

    yield make
    for each in made:
        each.stop(timeout=5)


def test_closings_run_in_order_in_one_thread_and_drain_waits_for_them(writer):
    closing_writer, ran = writer(in_flight=3), []
    for index in range(5):
        closing_writer.submit(lambda index=index: (time.sleep(0.01), ran.append((index, threading.current_thread().name))))
    assert closing_writer.drain(timeout=5)
    assert [index for index, _ in ran] == [0, 1, 2, 3, 4]
    assert {name for _, name in ran} == {ran[0][1]} and ran[0][1].startswith("judgeserve-closing")
    assert not closing_writer.pending()


def test_a_hand_off_waits_while_in_flight_closings_have_not_finished(writer):
    """With in_flight 1 the next job hands its closing over only once the previous one is done."""
    closing_writer, release, order = writer(in_flight=1), threading.Event(), []
    closing_writer.submit(lambda: (release.wait(5), order.append("first closed")))
    handed = threading.Thread(target=lambda: (closing_writer.submit(lambda: order.append("second closed")),
                                              order.append("second handed over")))
    handed.start()
    handed.join(0.2)
    assert handed.is_alive() and order == [] and closing_writer.pending()  # blocked behind the first closing
    release.set()
    handed.join(5)
    assert closing_writer.drain(timeout=5)
    assert order[0] == "first closed" and sorted(order[1:]) == ["second closed", "second handed over"]


def test_an_error_that_escapes_a_closing_is_logged_and_frees_its_slot(writer, caplog):
    closing_writer, ran = writer(in_flight=1), []

    def broken():
        raise RuntimeError("the closing's own handling failed")

    closing_writer.submit(broken)
    closing_writer.submit(lambda: ran.append("next"))  # would block forever if the slot were not freed
    assert closing_writer.drain(timeout=5)
    assert ran == ["next"]
    assert "the closing's own handling failed" in caplog.text


def test_drain_gives_up_after_its_timeout_and_reports_it(writer):
    closing_writer, release = writer(), threading.Event()
    closing_writer.submit(lambda: release.wait(5))
    assert closing_writer.drain(timeout=0.05) is False
    release.set()
    assert closing_writer.drain(timeout=5) is True


@pytest.mark.parametrize("in_flight, not_done, may_be_last", [
    (1, 1, True), (1, 2, True), (1, 3, False), (2, 3, True), (2, 4, False), (1, 50, False),
])
def test_a_chunk_may_be_the_last_to_close_when_the_closings_in_flight_may_be_the_others(
        writer, in_flight, not_done, may_be_last):
    assert writer(in_flight).may_close_last(not_done) is may_be_last


def test_a_stopped_writer_takes_no_closing_and_says_so(writer):
    closing_writer, ran = writer(), []
    assert closing_writer.stop(timeout=5) is True
    assert closing_writer.submit(lambda: ran.append("late")) is False  # the job closes its chunk itself
    assert ran == [] and not closing_writer.pending()


def test_stop_waits_at_most_its_timeout_and_a_stuck_closing_does_not_keep_the_process_alive():
    """A closing stuck on an unreachable database: stop gives up after its timeout, and the process still exits
    (the writer's thread is a daemon), leaving the chunk pending for the reaper."""
    import subprocess
    import sys

    from tests.support import REPO

    probe = ("import time, threading\n"
             "from workers.closing_writer import ClosingWriter\n"
             "w = ClosingWriter()\n"
             "w.submit(lambda: threading.Event().wait(60))\n"
             "t = time.monotonic(); print(w.stop(timeout=0.2), round(time.monotonic() - t, 2))\n")
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, timeout=30)
    drained, waited = done.stdout.split()
    assert drained == "False" and 0.2 <= float(waited) < 5 and time.monotonic() - started < 20
