"""The WSGI entry point for the web server: `granian --interface wsgi wsgi:app`."""

import gc

from app import create_app

app = create_app()
# What is loaded by now lives as long as the process. Frozen, it is left out of the garbage collector's full
# passes, which otherwise scan it again and again: on 140,000 objects such a pass took 200 ms, a pause that
# every request waiting behind it would feel.
gc.freeze()
