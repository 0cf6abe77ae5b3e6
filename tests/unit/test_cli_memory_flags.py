"""cli/run.memory_flags: the one -m/--memory-swap parser of run/create, build and update."""

from __future__ import annotations

import pytest

from dockyard.cli.flags import FlagError
from dockyard.cli.run import memory_flags


def test_memory_flags_as_host_config():
    assert memory_flags("", "") == {}
    assert memory_flags("64m", None) == {"Memory": 64 << 20}
    assert memory_flags("1g", "-1") == {"Memory": 1 << 30, "MemorySwap": -1}
    assert memory_flags(None, "2g") == {"MemorySwap": 2 << 30}


@pytest.mark.parametrize("memory,swap,msg", [
    ("12x", None, 'invalid argument "12x" for "-m, --memory" flag: invalid suffix: \'x\''),
    (None, "-2", 'invalid argument "-2" for "--memory-swap" flag: invalid size: \'-2\''),
])
def test_memory_flags_name_the_flag_and_exit_125(memory, swap, msg):
    with pytest.raises(FlagError) as e:
        memory_flags(memory, swap)
    assert str(e.value) == msg
    assert e.value.exit_code == 125
