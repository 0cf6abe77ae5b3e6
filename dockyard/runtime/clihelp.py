"""Help texts of `dockyard-runtime` (runc's, for the flags it has; imported only to show them)."""

from __future__ import annotations

GLOBAL = """NAME:
   dockyard-runtime - dockyard's OCI runtime (runc's command-line contract)

USAGE:
   dockyard-runtime [global options] command [command options] [arguments...]

COMMANDS:
   create      create a container
   delete      delete any resources held by the container often used with detached container
   exec        execute new process inside the container
   kill        kill sends the specified signal (default: SIGTERM) to the container's init process
   list        lists containers started by dockyard-runtime with the given root
   pause       pause suspends all processes inside the container
   resume      resumes all processes that have been previously paused
   run         create and run a container
   spec        create a new specification file
   start       executes the user defined process in a created container
   state       output the state of a container
   features    show the enabled features
   help, h     Shows a list of commands or help for one command

   runc's checkpoint, restore, ps, events and update are not implemented.

GLOBAL OPTIONS:
   --debug             enable debug logging (to --log, else stderr)
   --log value         set the log file to write errors to (they always go to stderr too)
   --log-format value  set the log format ('text' (default), or 'json') (default: "text")
   --root value        root directory for storage of container state (this should be located in tmpfs) (default: "/run/dockyard-runtime")
   --criu value        refused: checkpoint and restore are not implemented
   --systemd-cgroup    read cgroupsPath as "slice:prefix:name" (e.g. "system.slice:runc:434234") and use the path systemd would give it (refused while systemd runs)
   --rootless value    'false' or 'auto' (false when run as root); 'true' (ignore cgroup permission errors) is refused
   --help, -h          show help
   --version, -v       print the version
"""

_CREATE_OPTS = """   --bundle value, -b value  path to the root of the bundle directory, defaults to the current directory
   --console-socket value    path to an AF_UNIX socket which will receive a file descriptor referencing the master end of the console's pseudoterminal
   --pid-file value          specify the file to write the process id to
   --no-pivot                refused: dockyard-runtime always uses pivot_root(2)
   --no-new-keyring          do not create a new session keyring for the container. This will cause the container to inherit the calling processes session key
   --preserve-fds value      Pass N additional file descriptors to the container (stdio + $LISTEN_FDS + N in total) (default: 0)
"""

_ID = """Where "<container-id>" is the name for the instance of the container."""

VERBS = {
    "create": f"""NAME:
   dockyard-runtime create - create a container

USAGE:
   dockyard-runtime create [command options] <container-id>

{_ID}

DESCRIPTION:
   The create command creates an instance of a container for a bundle. The bundle
is a directory with a specification file named "config.json" and a root
filesystem. The container's process waits until `start`.

OPTIONS:
{_CREATE_OPTS}""",
    "run": f"""NAME:
   dockyard-runtime run - create and run a container

USAGE:
   dockyard-runtime run [command options] <container-id>

{_ID}

OPTIONS:
{_CREATE_OPTS}   --detach, -d              detach from the container's process
   --keep                    do not delete the container after it exits
   --no-subreaper            disable the use of the subreaper (only with --detach: without it, the exit status
                             cannot be collected)
""",
    "start": f"""NAME:
   dockyard-runtime start - executes the user defined process in a created container

USAGE:
   dockyard-runtime start <container-id>

{_ID}
""",
    "state": f"""NAME:
   dockyard-runtime state - output the state of a container

USAGE:
   dockyard-runtime state <container-id>

{_ID}
""",
    "pause": f"""NAME:
   dockyard-runtime pause - pause suspends all processes inside the container

USAGE:
   dockyard-runtime pause <container-id>

{_ID}
""",
    "resume": f"""NAME:
   dockyard-runtime resume - resumes all processes that have been previously paused

USAGE:
   dockyard-runtime resume <container-id>

{_ID}
""",
    "kill": f"""NAME:
   dockyard-runtime kill - kill sends the specified signal (default: SIGTERM) to the container's init process

USAGE:
   dockyard-runtime kill [command options] <container-id> [signal]

{_ID} "[signal]" is a name (KILL, SIGKILL) or a number.

OPTIONS:
   --all, -a  send the specified signal to all processes inside the container
""",
    "delete": f"""NAME:
   dockyard-runtime delete - delete any resources held by the container often used with detached container

USAGE:
   dockyard-runtime delete [command options] <container-id>

{_ID}

OPTIONS:
   --force, -f  Forcibly deletes the container if it is still running (uses SIGKILL)
""",
    "list": """NAME:
   dockyard-runtime list - lists containers started by dockyard-runtime with the given root

USAGE:
   dockyard-runtime list [command options]

OPTIONS:
   --format value, -f value  select one of: table or json (default: "table")
   --quiet, -q               display only container IDs
""",
    "exec": """NAME:
   dockyard-runtime exec - execute new process inside the container

USAGE:
   dockyard-runtime exec [command options] <container-id> <command> [command options]  || -p process.json <container-id>

Where "<container-id>" is the name for the instance of the container and
"<command>" is the command to be executed in the container.
"<command>" can't be empty unless a "-p" flag provided; with "-p", the
process file says the whole process and the flags that edit it are refused.

OPTIONS:
   --console-socket value             path to an AF_UNIX socket which will receive a file descriptor referencing the master end of the console's pseudoterminal
   --cwd value                        current working directory in the container
   --env value, -e value              set environment variables
   --tty, -t                          allocate a pseudo-TTY
   --user value, -u value             UID (format: <uid>[:<gid>])
   --additional-gids value, -g value  additional gids
   --process value, -p value          path to the process.json
   --detach, -d                       detach from the container's process
   --pid-file value                   specify the file to write the process id to
   --process-label value              set the SELinux label of the process (refused: dockyard-runtime applies no SELinux labels)
   --apparmor value                   set the apparmor profile for the process (refused where AppArmor is not enabled)
   --no-new-privs                     set the no new privileges value for the process
   --cap value, -c value              add a capability to the bounding, effective and permitted sets of the process
   --preserve-fds value               Pass N additional file descriptors to the container (stdio + $LISTEN_FDS + N in total) (default: 0)
   --cgroup value                     refused: exec into a sub-cgroup is not implemented
   --ignore-paused                    refused: exec into a paused container is not implemented
""",
    "spec": """NAME:
   dockyard-runtime spec - create a new specification file

USAGE:
   dockyard-runtime spec [command options]

DESCRIPTION:
   The spec command creates the new specification file named "config.json" for
the bundle: Docker's defaults, args "sh", a terminal.

OPTIONS:
   --bundle value, -b value  path to the root of the bundle directory
   --rootless                generate a configuration for a rootless container
""",
    "features": """NAME:
   dockyard-runtime features - show the enabled features

USAGE:
   dockyard-runtime features

DESCRIPTION:
   Show the enabled features, as JSON.
""",
    "help": """NAME:
   dockyard-runtime help - Shows a list of commands or help for one command

USAGE:
   dockyard-runtime help [command]
""",
}


def text(verb: str) -> str:
    return VERBS.get(verb, GLOBAL)
