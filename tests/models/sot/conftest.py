import pytest
import torch


@pytest.fixture
def one_torch_thread():
    """One intra-op thread: on a shared 2-core machine two threads oversubscribe the cores and
    make ATOM's many small ops several times slower."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
