"""`dockyard info` / `system info` and `dockyard version`: the engine's documents
(engine/info.py, the same GET /info and GET /version serve) printed as docker CLI 28 prints them,
or through `--format` (a Go template, or `json`)."""

from __future__ import annotations

import sys

from dockyard.cli.flags import STR, Flag, UsageError, parse, usage
from dockyard.errors import DockyardError

FLAGS = [Flag("-f,--format", STR, "Format output using a custom template: 'json' or a Go template", metavar="string"),
         Flag("--help")]


def _formatted(fmt: str, doc: dict) -> int:
    from dockyard.cli.template import go_json, render

    if fmt == "json":
        sys.stdout.write(go_json(doc) + "\n")
        return 0
    try:
        text = render(fmt, doc, strict=True)
    except DockyardError:
        sys.stdout.write("\n")  # docker writes the template's newline even when it fails
        raise
    sys.stdout.write(text + "\n")
    return 0


def cmd_info(ctx, argv) -> int:
    from dockyard import __version__
    from dockyard.engine.info import info_document

    opts = parse(FLAGS, argv)
    if opts.help:
        print(usage("dockyard info [OPTIONS]", "Display system-wide information", FLAGS))
        return 0
    if opts.args:
        raise UsageError('"dockyard info" accepts no arguments.')
    doc = info_document(ctx.engine)
    doc["ClientInfo"] = {"Debug": False, "Version": __version__, "Context": "default", "Plugins": [], "Warnings": None}
    if opts.format:
        return _formatted(opts.format, doc)
    print("\n".join(_info_lines(doc, __version__)))
    return 0


def _info_lines(d: dict, version: str) -> list[str]:
    from dockyard.units import binary_size

    plugins = d.get("Plugins") or {}
    opts = [o.partition(",")[0].partition("=")[2] for o in d.get("SecurityOptions") or ()]
    lines = ["Client:", f" Version:    {version}", " Context:    default", " Debug Mode: false", "",
             "Server:", f" Containers: {d['Containers']}", f"  Running: {d['ContainersRunning']}",
             f"  Paused: {d['ContainersPaused']}", f"  Stopped: {d['ContainersStopped']}",
             f" Images: {d['Images']}", f" Server Version: {d['ServerVersion']}", f" Storage Driver: {d['Driver']}",
             f" Logging Driver: {d['LoggingDriver']}", f" Cgroup Driver: {d['CgroupDriver']}",
             f" Cgroup Version: {d['CgroupVersion']}", " Plugins:",
             f"  Volume: {' '.join(plugins.get('Volume') or ())}",
             f"  Network: {' '.join(plugins.get('Network') or ())}",
             f"  Log: {' '.join(plugins.get('Log') or ())}",
             f" Swarm: {d['Swarm']['LocalNodeState']}", f" Runtimes: {' '.join(sorted(d.get('Runtimes') or {}))}",
             f" Default Runtime: {d['DefaultRuntime']}", f" Init Binary: {d.get('InitBinary', '')}",
             f" runc version: {(d.get('RuncCommit') or {}).get('ID', '')}", " Security Options:"]
    lines += [f"  {o}" for o in opts]
    lines += [f" Kernel Version: {d['KernelVersion']}", f" Operating System: {d['OperatingSystem']}",
              f" OSType: {d['OSType']}", f" Architecture: {d['Architecture']}", f" CPUs: {d['NCPU']}",
              f" Total Memory: {binary_size(d['MemTotal'])}", f" Name: {d['Name']}", f" ID: {d['ID']}",
              f" Docker Root Dir: {d['DockerRootDir']}", " Debug Mode: false", " Experimental: false",
              " Insecure Registries:"]
    lines += [f"  {c}" for c in (d.get("RegistryConfig") or {}).get("InsecureRegistryCIDRs") or ()]
    lines.append(f" Live Restore Enabled: {str(d['LiveRestoreEnabled']).lower()}")
    for key, env in (("HttpProxy", "HTTP Proxy"), ("HttpsProxy", "HTTPS Proxy"), ("NoProxy", "No Proxy")):
        if d.get(key):
            lines.append(f" {env}: {d[key]}")
    return lines


def cmd_version(ctx, argv) -> int:
    from dockyard import __version__
    from dockyard.engine.info import API_VERSION, MIN_API_VERSION, version_document

    opts = parse(FLAGS, argv)
    if opts.help:
        print(usage("dockyard version [OPTIONS]", "Show the dockyard version information", FLAGS))
        return 0
    if opts.args:
        raise UsageError('"dockyard version" accepts no arguments.')
    server = version_document()
    client = {"Platform": {"Name": ""}, "Version": __version__, "ApiVersion": API_VERSION,
              "DefaultAPIVersion": API_VERSION, "GitCommit": "", "GoVersion": server["GoVersion"], "Os": "linux",
              "Arch": server["Arch"], "BuildTime": "", "Context": "default"}
    if opts.format:
        return _formatted(opts.format, {"Client": client, "Server": server})
    print("\n".join([
        "Client:", f" Version:           {__version__}", f" API version:       {API_VERSION}",
        f" Go version:        {server['GoVersion']}", f" OS/Arch:           linux/{server['Arch']}",
        " Context:           default", "",
        f"Server: {server['Platform']['Name']}", " Engine:", f"  Version:          {__version__}",
        f"  API version:      {API_VERSION} (minimum version {MIN_API_VERSION})",
        f"  Go version:       {server['GoVersion']}", f"  OS/Arch:          linux/{server['Arch']}",
        "  Experimental:     false"]))
    return 0
