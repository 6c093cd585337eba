"""kfk's stand-in for the module of kafka-python's test suite that its source distribution
leaves out (tests/broker_python.rs runs the suite against a kfk broker).

The integration fixtures import two classes from it: ExternalService, the broker of
KAFKA_URI that is already running (the only one used against kfk), and SpawnedService, a
broker the fixture would start itself (the SSL tests ask for one; kfk starts none).
"""


class ExternalService:
    def __init__(self, host, port):
        self.host = host
        self.port = port

    def open(self):
        pass

    def close(self):
        pass

    def stop(self):
        pass

    def dump_logs(self):
        pass

    def wait_for(self, pattern, timeout=30):
        return True


class SpawnedService:
    def __init__(self, args=None, env=None):
        raise RuntimeError(
            "this run uses the broker of KAFKA_URI; it spawns no broker of its own")
