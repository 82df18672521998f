"""A throw-away single-node Slurm cluster on 127.0.0.1 for tests (root, no systemd).

``slurm_cluster(workdir)`` writes munge.key, slurm.conf, gres.conf and cgroup.conf into
``workdir``, starts munged, slurmctld and slurmd in the foreground (each as a child
process whose PID we keep), waits until ``sinfo`` shows the node idle, and yields the
environment (``SLURM_CONF``) that Slurm client commands need. On exit, even after an
error, it cancels every job, waits for the queue to drain and stops each daemon by its
PID (SIGTERM, then SIGKILL).

The node offers ``gpu`` GRES backed by character devices made with ``mknod`` (major 195,
like /dev/nvidia*), so GPU requests are scheduled and Slurm sets CUDA_VISIBLE_DEVICES
for each job; nothing real sits behind them. Accounting is off, so status queries must
use squeue. Run by hand: ``python tests/slurm/cluster.py /tmp/slurm-demo`` (Ctrl-C stops it).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

DAEMONS = ("munged", "slurmctld", "slurmd")
CLIENTS = ("sinfo", "squeue", "sbatch", "srun", "scancel", "scontrol")
NODE = "lyranode"


@dataclasses.dataclass
class Cluster:
    """A running test cluster: the environment for its clients and the daemons we started."""

    env: dict
    daemons: list[subprocess.Popen]


def missing_programs() -> list[str]:
    """Slurm/munge programs not on PATH (or in /usr/sbin)."""
    search = os.environ.get("PATH", "") + os.pathsep + "/usr/sbin:/sbin"
    return [name for name in (*DAEMONS, *CLIENTS) if not shutil.which(name, path=search)]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def write_config(workdir: Path, n_gpus: int = 4, cpus: int = 8, memory_mb: int = 16000) -> Path:
    """Write the cluster's files into ``workdir``; returns the path of slurm.conf."""
    workdir.mkdir(parents=True, exist_ok=True)
    os.chmod(workdir, 0o755)  # munged refuses group/world-writable directories
    for sub in ("state", "spool", "log", "dev", "munge"):
        (workdir / sub).mkdir(exist_ok=True)
    os.chmod(workdir / "munge", 0o700)
    key = workdir / "munge" / "munge.key"
    key.write_bytes(os.urandom(1024))
    os.chmod(key, 0o400)
    for i in range(n_gpus):
        device = workdir / "dev" / f"nvidia{i}"
        if not device.exists():
            os.mknod(device, 0o600 | 0o020000, os.makedev(195, i))  # S_IFCHR
    host = socket.gethostname().split(".")[0]
    socket_path = workdir / "munge" / "munge.socket"
    conf = workdir / "slurm.conf"
    conf.write_text(
        f"""ClusterName=lyratest
SlurmctldHost={host}(127.0.0.1)
SlurmctldPort={_free_port()}
SlurmdPort={_free_port()}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={socket_path}
StateSaveLocation={workdir}/state
SlurmdSpoolDir={workdir}/spool
SlurmctldPidFile={workdir}/slurmctld.pid
SlurmdPidFile={workdir}/slurmd.pid
SlurmctldLogFile={workdir}/log/slurmctld.log
SlurmdLogFile={workdir}/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/builtin
MpiDefault=none
ReturnToService=2
SlurmdParameters=config_overrides
GresTypes=gpu
MinJobAge=300
NodeName={NODE} NodeAddr=127.0.0.1 NodeHostname={host} CPUs={cpus} RealMemory={memory_mb} Gres=gpu:{n_gpus} State=UNKNOWN
PartitionName=debug Nodes={NODE} Default=YES MaxTime=INFINITE State=UP
"""
    )
    (workdir / "gres.conf").write_text(
        f"AutoDetect=off\nNodeName={NODE} Name=gpu File={workdir}/dev/nvidia[0-{n_gpus - 1}]\n"
    )
    (workdir / "cgroup.conf").write_text("CgroupPlugin=autodetect\nConstrainDevices=no\n")
    _write_client_wrappers(workdir / "bin", conf)
    return conf


def _write_client_wrappers(bin_dir: Path, conf: Path) -> None:
    """``bin_dir/<client>`` scripts that run the real client with SLURM_CONF set.

    Snakemake's slurm-jobstep executor starts ``srun`` with every SLURM_* variable but the
    job's identity removed, SLURM_CONF included; real clusters keep their config where
    clients look by default (/etc/slurm) or serve it (configless), this one cannot.
    """
    bin_dir.mkdir(exist_ok=True)
    for name in CLIENTS:
        real = shutil.which(name, path=os.environ.get("PATH", "") + os.pathsep + "/usr/sbin:/sbin")
        if real is None:
            continue
        wrapper = bin_dir / name
        wrapper.write_text(f'#!/bin/sh\nSLURM_CONF="{conf}" exec "{real}" "$@"\n')
        wrapper.chmod(0o755)


def _stop(proc: subprocess.Popen, grace: float = 10.0) -> None:
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(grace)


def _tail(path: Path, lines: int = 20) -> str:
    return f"--- {path}\n" + "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def _wait_for(check, what: str, timeout: float, logs: list[Path]) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.5)
    tails = "\n".join(_tail(p) for p in logs if p.exists())
    raise RuntimeError(f"the test cluster did not come up: {what} within {timeout:.0f} s\n{tails}")


def _drain(env: dict, timeout: float = 60.0) -> None:
    """Cancel every job and wait until squeue lists none (so no slurmstepd outlives the test)."""
    subprocess.run(["scancel", "--full", "--user", "root"], env=env, capture_output=True)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        out = subprocess.run(["squeue", "--noheader", "--format=%i"], env=env, capture_output=True, text=True)
        if out.returncode != 0 or not out.stdout.strip():
            return
        time.sleep(1)


@contextlib.contextmanager
def slurm_cluster(workdir: Path, n_gpus: int = 4, cpus: int = 8, memory_mb: int = 16000, timeout: float = 60.0):
    """Run a single-node Slurm cluster in ``workdir``; yields a :class:`Cluster`."""
    workdir = Path(workdir)
    conf = write_config(workdir, n_gpus, cpus, memory_mb)
    env = {**os.environ, "SLURM_CONF": str(conf)}
    env["PATH"] = os.pathsep.join([str(workdir / "bin"), env.get("PATH", ""), "/usr/sbin:/sbin"])
    logs = [workdir / "log" / name for name in ("munged.log", "slurmctld.log", "slurmd.log")]
    commands = {
        "munged": ["munged", "--foreground", "--force", f"--socket={workdir}/munge/munge.socket",
                   f"--key-file={workdir}/munge/munge.key", f"--pid-file={workdir}/munge/munged.pid",
                   f"--log-file={logs[0]}", f"--seed-file={workdir}/munge/munged.seed"],
        "slurmctld": ["slurmctld", "-D", "-i", "-f", str(conf)],
        "slurmd": ["slurmd", "-D", "-N", NODE, "-f", str(conf)],
    }
    started: list[subprocess.Popen] = []
    try:
        for name, command in commands.items():
            with open(workdir / "log" / f"{name}.out", "w") as out:
                started.append(subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT,
                                                cwd=workdir, start_new_session=True))
            if name == "munged":
                _wait_for(lambda: (workdir / "munge" / "munge.socket").exists(), "munged socket", timeout, logs)
            if started[-1].poll() is not None:
                raise RuntimeError(f"{name} exited at start:\n" + _tail(workdir / "log" / f"{name}.out"))

        def node_idle() -> bool:
            out = subprocess.run(["sinfo", "--noheader", "--Node", "--format=%t"], env=env,
                                 capture_output=True, text=True)
            return out.returncode == 0 and out.stdout.strip() == "idle"

        _wait_for(node_idle, f"node {NODE} idle in sinfo", timeout, logs)
        yield Cluster(env, started)
    finally:
        if len(started) == len(DAEMONS) and started[1].poll() is None:
            _drain(env)
        for proc in reversed(started):
            _stop(proc)


def main() -> None:
    workdir = Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/lyra-slurm")
    with slurm_cluster(workdir) as cluster:
        print(f"cluster up; use it with: export SLURM_CONF={cluster.env['SLURM_CONF']}   (Ctrl-C stops it)",
              flush=True)
        try:
            signal.pause()
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
