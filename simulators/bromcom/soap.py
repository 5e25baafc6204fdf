"""SOAP 1.1 and 1.2 envelopes as an ASP.NET .asmx service reads and writes them.

Requests are routed as ASP.NET routes them: SOAP 1.1 by the SOAPAction header (which must
name an operation), SOAP 1.2 by the `action` parameter of the Content-Type, or by the body's
element when there is none. Parameters are read the way XmlSerializer reads them: only
elements in the service namespace count, so an unqualified `<schoolID>` is silently ignored
(and the call then fails on credentials, as against the real service).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lxml import etree

from .dataset import escape_text
from .wsdl import operations

TEMPURI = "http://tempuri.org/"
SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
_XSI_NIL = "{http://www.w3.org/2001/XMLSchema-instance}nil"
_ENVELOPE_NS = {"1.1": SOAP11, "1.2": SOAP12}
CONTENT_TYPES = {"1.1": "text/xml; charset=utf-8", "1.2": "application/soap+xml; charset=utf-8"}
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)


class SoapFault(Exception):
    """A fault to answer with HTTP 500. `side` is who is to blame: client, server or version."""

    def __init__(self, reason: str, side: str = "server") -> None:
        super().__init__(reason)
        self.reason = reason
        self.side = side


@dataclass(frozen=True)
class SoapRequest:
    version: str  # "1.1" or "1.2"
    operation: str
    params: dict[str, str | None] = field(default_factory=dict)  # absent or nil: None


def version_of(content_type: str) -> str | None:
    """ "1.1", "1.2" or None (not a SOAP request) from the Content-Type header."""
    media = content_type.split(";", 1)[0].strip().lower()
    return {"text/xml": "1.1", "application/soap+xml": "1.2"}.get(media)


def soap12_action(content_type: str) -> str | None:
    for part in content_type.split(";")[1:]:
        key, _, value = part.partition("=")
        if key.strip().lower() == "action":
            return value.strip().strip('"')
    return None


def _operation_from_action(action: str) -> str:
    name = action.strip().strip('"')
    if name.startswith(TEMPURI) and name[len(TEMPURI) :] in operations():
        return name[len(TEMPURI) :]
    raise SoapFault(
        f"Server did not recognize the value of HTTP Header SOAPAction: {name}.", "client"
    )


def parse_request(body: bytes, version: str, action: str | None) -> SoapRequest:
    """Read an envelope; raise SoapFault (client or version) for what ASP.NET would refuse."""
    operation = _operation_from_action(action or "") if version == "1.1" or action else None
    if not body.strip():
        raise SoapFault(
            "Server was unable to read request. ---> Root element is missing.", "client"
        )
    try:
        root = etree.fromstring(body, _PARSER)
    except etree.XMLSyntaxError as exc:
        line, column = exc.position
        raise SoapFault(
            "Server was unable to read request. ---> There is an error in XML document "
            f"({line}, {column}). ---> {exc.msg}",
            "client",
        ) from None
    expected = _ENVELOPE_NS[version]
    if etree.QName(root).localname != "Envelope" or etree.QName(root).namespace != expected:
        raise SoapFault(
            "Possible SOAP version mismatch: Envelope namespace "
            f"{etree.QName(root).namespace or ''} was unexpected. Expecting {expected}.",
            "version",
        )
    soap_body = root.find(f"{{{expected}}}Body")
    call = (
        next((el for el in soap_body if isinstance(el.tag, str)), None)
        if soap_body is not None
        else None
    )
    if call is None:
        raise SoapFault(
            "Server was unable to read request. ---> The message has no Body element or the "
            "Body holds no request.",
            "client",
        )
    qname = etree.QName(call)
    if operation is None:
        if qname.namespace != TEMPURI or qname.localname not in operations():
            raise SoapFault(
                f"Server did not recognize the value of HTTP Header SOAPAction: {qname.localname}.",
                "client",
            )
        operation = qname.localname
    if qname.namespace != TEMPURI or qname.localname != operation:
        raise SoapFault(
            "Server was unable to read request. ---> There is an error in XML document "
            f"({call.sourceline}, 2). ---> <{qname.localname} xmlns='{qname.namespace or ''}'> "
            "was not expected.",
            "client",
        )
    params: dict[str, str | None] = {}
    for child in call:
        if isinstance(child.tag, str) and etree.QName(child).namespace == TEMPURI:
            nil = child.get(_XSI_NIL) in ("true", "1")
            params[etree.QName(child).localname] = None if nil else (child.text or "")
    return SoapRequest(version, operation, params)


def _envelope(version: str, body: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        f'<soap:Envelope xmlns:soap="{_ENVELOPE_NS[version]}" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        'xmlns:xsd="http://www.w3.org/2001/XMLSchema">'
        f"<soap:Body>{body}</soap:Body></soap:Envelope>"
    ).encode()


def response(version: str, operation: str, result_xml: str) -> bytes:
    """A success envelope; `result_xml` is the escaped content of `<operationResult>`."""
    return _envelope(
        version,
        f'<{operation}Response xmlns="{TEMPURI}"><{operation}Result>{result_xml}'
        f"</{operation}Result></{operation}Response>",
    )


def fault(version: str, error: SoapFault) -> bytes:
    """The fault envelope ASP.NET writes, SOAP 1.1 or 1.2 codes by the request's version."""
    reason = escape_text(error.reason)
    if version == "1.1":
        code = {"client": "Client", "server": "Server", "version": "VersionMismatch"}[error.side]
        body = (
            f"<soap:Fault><faultcode>soap:{code}</faultcode><faultstring>{reason}</faultstring>"
            "<detail /></soap:Fault>"
        )
    else:
        code = {"client": "Sender", "server": "Receiver", "version": "VersionMismatch"}[error.side]
        body = (
            f"<soap:Fault><soap:Code><soap:Value>soap:{code}</soap:Value></soap:Code>"
            f'<soap:Reason><soap:Text xml:lang="en">{reason}</soap:Text></soap:Reason>'
            "<soap:Detail /></soap:Fault>"
        )
    return _envelope(version, body)
