"""Ledgers named by URI for `score --engine spark`: `hdfs://`, `s3a://`,
`gs://`, `abfss://`, `file://` and any other scheme the user's Spark has a
Hadoop file system for (docs/sql.md, "Reading the ledger in Spark").

The URI is given to Spark as written (but for its path's glob characters,
escaped: `literal_uri`), so it is read with the Hadoop
configuration of the user's Spark (`core-site.xml` in `HADOOP_CONF_DIR`,
`spark.hadoop.*` settings, the connector's credentials): nothing here
knows a store. The one thing done from Python is the listing `sql.spark_read`
needs before reading (whether the ledger is Parquet, one kind of file),
made through the same Hadoop file system in Spark's JVM, with the same
files left out as Spark leaves them (names starting with `.` or `_`, such
as `_SUCCESS`).

A ledger named by URI is never opened by the Python process: a line
outside the strict form is refused, naming the file and the line's text,
as for a directory (the Python reader cannot take it instead).
"""

from __future__ import annotations

import os
import re
import sys
from typing import Any

from .run import EngineError
from .spark_lost import interruption, is_lost

#: a scheme of two or more characters (RFC 3986) and `://`: `C:\\` is a path
_URI = re.compile(r"[A-Za-z][A-Za-z0-9+.-]+://")


def is_uri(path: str) -> bool:
    """Whether the ledger is named by a URI (read by Spark's file systems)."""
    return _URI.match(path) is not None


#: the characters Hadoop's glob patterns give a meaning (`GlobPattern`),
#: which Spark's readers expand in every path they are given
_GLOB = re.compile(r"([\\{}\[\]*?])")

#: a URI's scheme and authority (`hdfs://host:8020`), and its path
_AUTHORITY = re.compile(r"([A-Za-z][A-Za-z0-9+.-]+://[^/]*)(.*)", re.DOTALL)


def _literal(path: str) -> str:
    """`path` with each glob character escaped: Spark reads the file of
    that name, as it was listed, not the files the pattern matches."""
    return _GLOB.sub(r"\\\1", path)


def local_uri(path: str) -> str:
    """A path on this machine as the URI Spark is to read it by: `file://`,
    so that it is not looked for on the default file system of the
    Hadoop configuration (`fs.defaultFS`: HDFS on a cluster's edge node,
    DBFS beside a notebook), where a file of the same name may be another
    one; made whole (`abspath`: the names Spark gives the files in messages
    are the ones the user's path gives, as Hadoop made them before); and
    its glob characters escaped (`ledger[1].jsonl` is read, not
    `ledger1.jsonl`; on POSIX systems: Hadoop reads a backslash as a
    separator on Windows). Not percent-encoded: Hadoop takes the path's
    characters as written (`input_file_name` gives them encoded,
    `spark_read._local`)."""
    whole = os.path.abspath(path).replace(os.sep, "/")
    return "file://" + ("" if whole.startswith("/") else "/") + _literal(whole)


def literal_uri(uri: str) -> str:
    """A URI as Spark is to read it: the file or directory `uri_files`
    lists by that name, its path's glob characters escaped (not the
    authority's: `hdfs://[::1]:8020/`)."""
    found = _AUTHORITY.fullmatch(uri)
    return uri if found is None else found[1] + _literal(found[2])


def uri_files(session: Any, uri: str) -> tuple[bool, list[str]]:
    """(whether `uri` is a directory, its files' URIs in order, at any depth,
    hidden ones left out; the URI itself for a file), listed by the Hadoop
    file system of Spark's JVM. `EngineError` when the URI names nothing or
    Spark has no file system for its scheme."""
    jvm = session.sparkContext._jvm
    handled = sys.exc_info()[1]  # what the caller handles (`spark_lost.interruption`)
    try:
        root = jvm.org.apache.hadoop.fs.Path(uri)
        system = root.getFileSystem(session.sparkContext._jsc.hadoopConfiguration())
        status = system.getFileStatus(root)
        if not status.isDirectory():
            return False, [uri]
        base = str(status.getPath().toString()).rstrip("/")
        found = []
        listing = system.listFiles(root, True)
        while listing.hasNext():
            name = str(listing.next().getPath().toString())
            if not any(part.startswith((".", "_")) for part in name[len(base) :].split("/") if part):
                found.append(name)
    except Exception as error:
        stop = interruption(error, handled)
        if stop is not None:  # a Ctrl-C that another call's failure replaced (`spark_lost.interruption`)
            raise stop from None
        if type(error).__module__.split(".")[0] == "rewardrules" or is_lost(session, error):
            raise  # the project's own, or Spark's JVM gone (said by `spark._said`)
        raise EngineError(f"Spark cannot read {uri}: {_java_reason(error)}") from None
    return True, sorted(found)


def _java_reason(error: BaseException) -> str:
    """The Java exception's own words (its class's short name and the first
    line of its message), not py4j's `An error occurred while calling`."""
    java = getattr(error, "java_exception", None)
    if java is not None:
        kind = str(java.getClass().getSimpleName())
        message = str(java.getMessage() or "").strip()
        if kind == "FileNotFoundException":
            return "no such file or directory"
        return f"{kind}: {message.splitlines()[0]}" if message else kind
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
