"""`dockyard update`: docker's resource flags and --restart turned into an UpdateConfig."""

from __future__ import annotations

from dockyard.cli.flags import STR, Flag, FlagError, UsageError, parse, usage

FLAGS = [
    Flag("--blkio-weight", STR, "Block IO (relative weight), between 10 and 1000, or 0 to disable", metavar="uint16"),
    Flag("--cpu-period", STR, "Limit CPU CFS (Completely Fair Scheduler) period", metavar="int"),
    Flag("--cpu-quota", STR, "Limit CPU CFS (Completely Fair Scheduler) quota", metavar="int"),
    *(Flag(f"--cpu-rt-{what}", STR, f"Limit the CPU real-time {what} in microseconds (refused)", metavar="int",
           refused=f"--cpu-rt-{what} is not supported: dockyard does not give its cgroup tree a real-time CPU "
           "budget") for what in ("period", "runtime")),
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
    from dockyard.cli.run import cpus_flag, int_flag, mem_flag, memory_flags  # the run flags' own parsers

    body = memory_flags(opts.memory, opts.memory_swap)
    if opts.memory_reservation:
        body["MemoryReservation"] = mem_flag(opts.memory_reservation, "--memory-reservation")
    if opts.cpus:
        body["NanoCpus"] = cpus_flag(opts.cpus)
    for flag, key, name in (("cpu_shares", "CpuShares", "-c, --cpu-shares"), ("cpu_period", "CpuPeriod", "--cpu-period"),
                            ("cpu_quota", "CpuQuota", "--cpu-quota"), ("pids_limit", "PidsLimit", "--pids-limit"),
                            ("blkio_weight", "BlkioWeight", "--blkio-weight")):
        if opts[flag]:
            body[key] = int_flag(opts[flag], name)
    if opts.blkio_weight and not (body["BlkioWeight"] == 0 or 10 <= body["BlkioWeight"] <= 1000):
        raise FlagError(f"invalid argument \"{opts.blkio_weight}\" for \"--blkio-weight\" flag: "
                         "must be between 10 and 1000")
    if opts.cpuset_cpus:
        body["CpusetCpus"] = opts.cpuset_cpus
    if opts.cpuset_mems:
        body["CpusetMems"] = opts.cpuset_mems
    if opts.restart:
        from dockyard.cli.run import restart_flag  # docker's CLI-side parse: a bad count exits 1

        name, count = restart_flag(opts.restart, False)
        body["RestartPolicy"] = {"Name": name, "MaximumRetryCount": count}
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

    warnings: list[str] = []
    rc = each(opts.args, lambda ref: warnings.extend(update(ctx.engine, ref, body)), echo=True)
    if warnings:  # docker prints the daemon's warnings after the names (on stdout)
        print("\n".join(warnings))
    return rc
