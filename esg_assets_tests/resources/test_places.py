"""The in-flight places (`resources/places.py`): never more holders than places, whatever the
threads, every waiter served, and a release too many refused as threading's semaphore refuses it."""

import os
import threading
import time

import pytest

from esg_assets.resources.places import in_flight_places


def test_many_threads_never_hold_more_places_than_there_are_and_all_get_one() -> None:
    places = in_flight_places(4)
    lock = threading.Lock()
    holding, most, served = 0, 0, 0

    def work() -> None:
        nonlocal holding, most, served
        for _ in range(50):
            with places:
                with lock:
                    holding += 1
                    most = max(most, holding)
                time.sleep(0.0005)
                with lock:
                    holding -= 1
                    served += 1

    threads = [threading.Thread(target=work) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert served == 16 * 50
    assert most == 4


def test_a_place_released_once_too_often_is_refused() -> None:
    places = in_flight_places(1)
    with places:
        pass
    with pytest.raises(ValueError):
        places.__exit__(None, None, None)


def test_the_places_leave_no_name_behind() -> None:
    """A POSIX semaphore made by name must not stay in /dev/shm after the process."""
    before = set(os.listdir("/dev/shm")) if os.path.isdir("/dev/shm") else set()
    places = in_flight_places(2)
    with places:
        after = set(os.listdir("/dev/shm")) if os.path.isdir("/dev/shm") else set()
    assert not {name for name in after - before if name.startswith("sem.")}
