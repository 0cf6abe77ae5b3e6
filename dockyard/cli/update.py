"""`dockyard update`: docker's resource flags and --restart turned into an UpdateConfig."""

from __future__ import annotations

from dockyard.cli.flags import STR, Flag, FlagError, UsageError, parse, usage

FLAGS = [
    Flag("--blkio-weight", STR, "Block IO (relative weight), between 10 and 1000, or 0 to disable", metavar="uint16"),
    Flag("--cpu-period", STR, "Limit CPU CFS (Completely Fair Scheduler) period", metavar="int"),
    Flag("--cpu-quota", STR, "Limit CPU CFS (Completely Fair Scheduler) quota", metavar="int"),
    Flag("--cpu-rt-period", STR, "Limit the CPU real-time period in microseconds (refused)", metavar="int"),
    Flag("--cpu-rt-runtime", STR, "Limit the CPU real-time runtime in microseconds (refused)", metavar="int"),
    Flag("-c,--cpu-shares", STR, "CPU shares (relative weight)", metavar="int"),
    Flag("--cpus", STR, "Number of CPUs", metavar="decimal"),
    Flag("--cpuset-cpus", STR, "CPUs in which to allow execution (0-3, 0,1)", metavar="string"),
    Flag("--cpuset-mems", STR, "MEMs in which to allow execution (0-3, 0,1)", metavar="string"),
    Flag("-m,--memory", STR, "Memory limit", metavar="bytes"),
    Flag("--memory-reservation", STR, "Memory soft limit", metavar="bytes"),
    Flag("--memory-swap", STR, 'Swap limit equal to memory plus swap: -1 to enable unlimited swap', metavar="bytes"),
    Flag("--pids-limit", STR, "Tune container pids limit (set -1 for unlimited)", metavar="int"),
    Flag("--restart", STR, "Restart policy to apply when a container exits", metavar="string"),
    Flag("--help"),
]


def request(opts) -> dict:
    from dockyard.cli.runflags import integer  # the run flags' own parsers, one place
    from dockyard.units import memory_flags, size_flag

    body = memory_flags(opts.memory, opts.memory_swap, memory_flag="-m, --memory")
    if opts.memory_reservation:
        body["MemoryReservation"] = size_flag(opts.memory_reservation, "--memory-reservation")
    if opts.cpus:
        from dockyard.runtime.cgroups import parse_nano_cpus

        body["NanoCpus"] = parse_nano_cpus(opts.cpus)
    for flag, key, name in (("cpu_shares", "CpuShares", "-c, --cpu-shares"), ("cpu_period", "CpuPeriod", "--cpu-period"),
                            ("cpu_quota", "CpuQuota", "--cpu-quota"), ("pids_limit", "PidsLimit", "--pids-limit"),
                            ("blkio_weight", "BlkioWeight", "--blkio-weight"),
                            ("cpu_rt_period", "CpuRealtimePeriod", "--cpu-rt-period"),
                            ("cpu_rt_runtime", "CpuRealtimeRuntime", "--cpu-rt-runtime")):
        if opts[flag]:
            body[key] = integer(opts[flag], name)
    if opts.blkio_weight and not (body["BlkioWeight"] == 0 or 10 <= body["BlkioWeight"] <= 1000):
        raise FlagError(f"invalid argument \"{opts.blkio_weight}\" for \"--blkio-weight\" flag: "
                         "must be between 10 and 1000")
    if opts.cpuset_cpus:
        body["CpusetCpus"] = opts.cpuset_cpus
    if opts.cpuset_mems:
        body["CpusetMems"] = opts.cpuset_mems
    if opts.restart:
        name, _, count = opts.restart.partition(":")
        body["RestartPolicy"] = {"Name": name, "MaximumRetryCount": int(count) if count.isdigit() else 0}
        if count and not count.isdigit():
            raise UsageError(f"invalid restart policy: maximum retry count must be a number: {count}")
    return body


def cmd_update(ctx, argv) -> int:
    from dockyard.engine.update import update

    opts = parse(FLAGS, argv)
    if opts.help:
        print(usage("dockyard update [OPTIONS] CONTAINER [CONTAINER...]",
                    "Update configuration of one or more containers", FLAGS))
        return 0
    if not opts.args:
        raise UsageError('"dockyard update" requires at least 1 argument.')
    body = request(opts)
    if not body:
        raise UsageError("you must provide one or more flags when using this command")
    from dockyard.cli.each import each

    return each(opts.args, lambda ref: update(ctx.engine, ref, body), echo=True)
