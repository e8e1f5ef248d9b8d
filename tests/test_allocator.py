"""keep_large_buffers: freed large buffers are reused instead of page-faulted in again."""

import subprocess
import sys

import pytest

PROBE = """
import resource, sys, torch
from seqattn.allocator import keep_large_buffers
if sys.argv[1] == "keep":
    print(keep_large_buffers(), file=sys.stderr)
x = torch.ones(16 * 2**20)  # 64 MB of float32
for _ in range(12):  # glibc settles on a few reusable chunks within the first ten
    y = x.clone(); del y
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(20):
    y = x.clone(); del y
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def page_faults(mode: str) -> int:
    done = subprocess.run([sys.executable, "-c", PROBE, mode], capture_output=True, text=True, check=True)
    return int(done.stdout.strip())


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_large_buffers_are_reused_not_faulted_in_again():
    fresh, kept = page_faults("plain"), page_faults("keep")
    pages_per_clone = 64 * 2**20 // 4096
    assert fresh > 10 * pages_per_clone  # each clone maps new pages (the probe measures something)
    assert kept < pages_per_clone  # all 20 clones together fault in less than one buffer


SAYS = """
from seqattn.allocator import keep_large_buffers
for one_heap in (False, False, True, False):
    print(keep_large_buffers(one_heap=one_heap))
"""


def test_it_says_what_it_did():  # in a fresh process: the settings hold for the whole process
    done = subprocess.run([sys.executable, "-c", SAYS], capture_output=True, text=True, check=True)
    first, again, one_heap, after = done.stdout.splitlines()
    assert first == again and ("MiB" in first) == sys.platform.startswith("linux")
    assert "one heap" not in first
    assert ("one heap" in one_heap) == sys.platform.startswith("linux") and after == one_heap


ARENAS = """
import ctypes, sys, tempfile, threading, torch
from seqattn.allocator import keep_large_buffers
if sys.argv[1] != "plain":
    keep_large_buffers(one_heap=sys.argv[1] == "one heap")
barrier = threading.Barrier(4)
def work():
    barrier.wait()  # all four allocate at once: glibc would give each its own arena
    for _ in range(50):
        y = torch.ones(2**16); del y
threads = [threading.Thread(target=work) for _ in range(4)]
[t.start() for t in threads]; [t.join() for t in threads]
libc = ctypes.CDLL("libc.so.6")
libc.fopen.restype = ctypes.c_void_p
with tempfile.TemporaryDirectory() as folder:
    path = f"{folder}/malloc_info.xml"
    stream = ctypes.c_void_p(libc.fopen(path.encode(), b"w"))
    libc.malloc_info(0, stream)
    libc.fclose(stream)
    print(open(path).read().count("<heap nr="))  # one element per arena
"""


def heaps(mode: str) -> int:
    done = subprocess.run([sys.executable, "-c", ARENAS, mode], capture_output=True, text=True, check=True)
    return int(done.stdout.strip())


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_threads_share_one_heap_where_asked():
    assert heaps("plain") > 1  # threads allocating at once get arenas of their own (the probe sees them)
    assert heaps("one heap") == 1  # prediction
    assert heaps("keep") > 1  # training: an arena per thread, as glibc gives them
