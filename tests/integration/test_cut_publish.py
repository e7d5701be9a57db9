"""The sink's warning for an invalid payload shows what the payload looked
like (issue 13's nats flake: "invalid UTF-8 at byte 0" said too little)."""

from conftest import mqtt_publish_all, sink_argv

SUBSCRIBED = r"pitemp-sink: info: subscribed to "


def test_an_invalid_payload_is_shown_escaped(bins, broker, procs):
    """The sink's warning for an invalid payload shows its length and its
    first bytes, escaped, so the next garbled message can be read."""
    sink = procs.start("sink", sink_argv(bins, broker.port, "-C", "0"))
    sink.wait_for_line(SUBSCRIBED)
    garbled = (b'\x1d\x86\n\xd7j\xc9\xd6\xda":"x","boot":"f31796a5c0851e12",'
               b'"seq":4285,"ts":"2026-11-30T02:21:25.218083Z","temp_c":22.19}')
    mqtt_publish_all(broker.port, [("pitemp/x/temperature", garbled)])
    line = sink.wait_for_line(r"invalid payload on pitemp/x/temperature", 10)
    assert line.isprintable(), repr(line)
    assert line.endswith(
        r'(101 bytes, begins "\x1d\x86\x0a\xd7j\xc9\xd6\xda\":\"x\",'
        r'\"boot\":\"f31796a5c0851e12\",\"seq\":42"...)'), line
