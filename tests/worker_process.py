"""A worker process for tests, with controlled slowness or death (not collected by pytest).

    python tests/worker_process.py [--sleep-on PROMPT SECONDS]... [--die-on PROMPT]

Settings come from the environment (REDIS_URL, BABEL_CLAIM_IDLE_S, ...). Prints "ready" when
it serves and "job PROMPT" when it starts a job; --sleep-on makes jobs with that prompt sleep
before they are read (it may be given for several prompts); --die-on makes the process SIGKILL
itself when it starts such a job.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import time

from babel_core.jobs import Job
from babel_core.settings import Settings
from babel_core.worker import Worker


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sleep-on", nargs=2, metavar=("PROMPT", "SECONDS"), action="append")
    parser.add_argument("--die-on")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)

    def before_job(job: Job) -> None:
        print("job", job.prompt, flush=True)
        if job.prompt == args.die_on:
            os.kill(os.getpid(), signal.SIGKILL)
        for prompt, seconds in args.sleep_on or ():
            if job.prompt == prompt:
                time.sleep(float(seconds))

    settings = Settings.from_env()
    worker = Worker(settings, settings.redis_url, before_job=before_job)
    worker.install_signal_handlers()
    print("ready", worker.name, flush=True)
    worker.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
