"""The host's log: lines tagged with the handler and the request id."""

from wit_world.imports import log as wit


def trace(message):
    wit.log(wit.Level.TRACE, str(message))


def debug(message):
    wit.log(wit.Level.DEBUG, str(message))


def info(message):
    wit.log(wit.Level.INFO, str(message))


def warn(message):
    wit.log(wit.Level.WARN, str(message))


def error(message):
    wit.log(wit.Level.ERROR, str(message))
