# kfk's stand-in: kafka-python's source distribution ships its test suite without the
# package file that makes `test` importable (tests/broker_python.rs runs the suite).
