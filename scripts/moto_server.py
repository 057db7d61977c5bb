"""moto's server (DynamoDB and Secrets Manager for the tests), handling one request at a time.

DynamoDB applies a conditional write atomically. moto's own server handles requests on
threads, and checks a write's condition and makes the write as separate steps, so two
concurrent writers of one version could both win, and the tests that hold graphgate to that
guarantee failed now and then. Requests are still accepted on many connections at once; only
their handling is taken in turn.

Usage: moto_server.py HOST PORT
"""

import sys
import threading

from werkzeug.serving import run_simple
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)


def main() -> None:
    host, port = sys.argv[1], int(sys.argv[2])
    moto = DomainDispatcherApplication(create_backend_app)
    one_at_a_time = threading.Lock()

    def app(environ, start_response):
        with one_at_a_time:
            return list(moto(environ, start_response))

    run_simple(host, port, app, threaded=True, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
