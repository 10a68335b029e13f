"""PDF/A-3b: what a Factur-X file needs beyond what the factur-x package writes into it.

`conform` works on the pypdf `PdfWriter` the package has filled (the attachment, `/AF`,
the XMP with `pdfaid:part` 3, conformance B and the Factur-X extension schema), before
the file's only write:

- an output intent: `/OutputIntents` holds one `/GTS_PDFA1` intent whose
  `/DestOutputProfile` is an sRGB ICC profile (`/N 3`) made by Pillow's LittleCMS
  (`ImageCms.createProfile("sRGB")`, a v4 display profile "sRGB built-in"), once per
  process, the creation date of its header pinned so its bytes never change;
- one set of metadata: the Info dictionary keeps the entries that have an XMP
  counterpart (Title, Author, Subject, Keywords, Creator, Producer, CreationDate, ModDate;
  the `/Trapped` ReportLab writes goes), `/Producer` names both libraries that wrote the
  file, and the XMP says the same: `dc:title`, `dc:creator`, `dc:description`,
  `pdf:Keywords`, `xmp:CreatorTool`, `pdf:Producer`, `xmp:CreateDate` and
  `xmp:ModifyDate` (the instants of the PDF dates), every `rdf:Description` with
  `rdf:about=""`, the packet uncompressed; the rest of the package's XMP is kept as is;
- a file identifier (`/ID`) the caller gives, unique to the document;
- a refusal (ValueError) of what PDF/A forbids and could come in with the PDF: JavaScript,
  additional actions, a launch action, an embedded file that is not an associated file.

pypdf, lxml and Pillow are imported inside the functions: `crmpay --help` loads none.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pypdf import PdfWriter

SRGB = "sRGB IEC61966-2.1"  # the output condition: the colour space of IEC 61966-2-1
REGISTRY = "http://www.color.org"
PROFILE_DATE = (2000, 1, 1, 0, 0, 0)  # the ICC header's creation date (LittleCMS writes the clock's)
NS = {
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "dc": "http://purl.org/dc/elements/1.1/",
    "pdf": "http://ns.adobe.com/pdf/1.3/",
    "xmp": "http://ns.adobe.com/xap/1.0/",
    "xml": "http://www.w3.org/XML/1998/namespace",
}
# Info entry -> its XMP property, and the RDF container of its value (None: a simple value)
XMP_OF_INFO: dict[str, tuple[str, str | None]] = {
    "/Title": ("dc:title", "Alt"),
    "/Author": ("dc:creator", "Seq"),
    "/Subject": ("dc:description", "Alt"),
    "/Keywords": ("pdf:Keywords", None),
    "/Creator": ("xmp:CreatorTool", None),
    "/Producer": ("pdf:Producer", None),
    "/CreationDate": ("xmp:CreateDate", None),
    "/ModDate": ("xmp:ModifyDate", None),
}
DATES = ("/CreationDate", "/ModDate")
PYPDF = "pypdf"  # what writes the file: the end of every /Producer
_PDF_DATE = re.compile(r"^D:(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(?:(Z)|([+-])(\d{2})'(\d{2})'?)?$")
_HEAD = '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>'
_TAIL = '<?xpacket end="w"?>'


@lru_cache(maxsize=1)
def srgb_profile() -> bytes:
    """An sRGB ICC profile (LittleCMS's, through Pillow), the same bytes every time."""
    import struct

    try:
        from PIL import ImageCms
    except ImportError as exc:  # Pillow built without LittleCMS
        raise ValueError(f"no sRGB ICC profile for PDF/A: Pillow's ImageCms is not available ({exc})") from None
    data = bytearray(ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes())
    if data[36:40] != b"acsp" or data[16:20] != b"RGB " or data[8] >= 5:
        raise ValueError("Pillow's sRGB profile is not an RGB ICC profile of version 2 to 4")
    data[24:36] = struct.pack(">6H", *PROFILE_DATE)  # the profile ID (bytes 84-100) is 0: not computed
    return bytes(data)


def pdf_to_xmp_date(value: str) -> str:
    """`D:20261122000000+00'00'` -> `2026-11-22T00:00:00+00:00` (the same instant)."""
    found = _PDF_DATE.match(value)
    if not found:
        raise ValueError(f"not a complete PDF date: {value!r}")
    year, month, day, hour, minute, second, zulu, sign, tz_hour, tz_minute = found.groups()
    zone = f"{sign}{tz_hour}:{tz_minute}" if sign else "Z"
    return f"{year}-{month}-{day}T{hour}:{minute}:{second}{zone}"


def conform(writer: PdfWriter, file_id: tuple[bytes, bytes], template: bytes | None = None) -> None:
    """Make the document in `writer` PDF/A-3b as far as listed above. `file_id`: the two
    halves of `/ID`; `template`: the XMP packet to fill (default: the document's own)."""
    _refuse(writer)
    info = _info(writer)
    writer.metadata = info
    _set_xmp(writer, xmp_packet(info, template if template is not None else _xmp_of(writer)))
    _output_intent(writer)
    _identify(writer, file_id)


def _refuse(writer: PdfWriter) -> None:
    """What PDF/A-3 forbids (ISO 19005-3 6.5, 6.8) and could come in with the PDF."""
    root: Any = writer.root_object
    names: Any = root["/Names"] if "/Names" in root else {}
    if "/AA" in root or "/JavaScript" in names:
        raise ValueError("PDF/A forbids JavaScript and additional actions")
    action = root["/OpenAction"] if "/OpenAction" in root else None
    if isinstance(action, dict) and action.get("/S") in ("/JavaScript", "/Launch"):
        raise ValueError("PDF/A forbids a JavaScript or launch action")
    if any("/AA" in page for page in writer.pages):
        raise ValueError("PDF/A forbids additional actions on a page")
    listed = names["/EmbeddedFiles"].get("/Names", []) if "/EmbeddedFiles" in names else []
    associated = {_number(ref) for ref in (root["/AF"] if "/AF" in root else [])}
    for ref in listed[1::2]:
        if _number(ref) not in associated or "/AFRelationship" not in ref.get_object():
            raise ValueError(f"the embedded file {ref.get_object().get('/F')!r} is not an associated file (/AF)")


def _number(ref: Any) -> int | None:
    """The object number of an indirect object (a reference or the object read through it)."""
    ref = getattr(ref, "indirect_reference", None) or ref
    return getattr(ref, "idnum", None)


def _info(writer: PdfWriter) -> dict[str, str]:
    """The Info entries that have an XMP counterpart, `/Producer` naming both writers."""
    current: Any = writer.metadata or {}
    info = {key: str(current.get(key) or "") for key in XMP_OF_INFO}
    producer = info["/Producer"]
    if not producer.endswith(PYPDF):
        info["/Producer"] = f"{producer}; {PYPDF}" if producer else PYPDF
    for key in DATES:
        pdf_to_xmp_date(info[key])  # a date XMP says the same way, or ValueError
    return info


def _xmp_of(writer: PdfWriter) -> bytes:
    stream: Any = writer.root_object.get("/Metadata")
    if stream is None:
        raise ValueError("the PDF has no XMP metadata to fill")
    return bytes(stream.get_object().get_data())


@lru_cache(maxsize=4)
def _parsed(template: bytes) -> Any:
    """The XMP packet's root element, every `rdf:Description` about the document."""
    from lxml import etree

    root = etree.fromstring(template)
    if root.find("rdf:RDF", NS) is None:
        raise ValueError("the XMP has no rdf:RDF")
    for description in root.iterfind("rdf:RDF/rdf:Description", NS):
        description.set(f"{{{NS['rdf']}}}about", "")
    return root


def xmp_packet(info: dict[str, str], template: bytes) -> bytes:
    """The XMP packet `template` with the values of the Info entries `info` (see
    `XMP_OF_INFO`), the missing properties added; UTF-8, without the `bytes` and
    `encoding` attributes PDF/A forbids in the packet header."""
    from copy import deepcopy

    from lxml import etree

    root = deepcopy(_parsed(template))
    rdf = root.find("rdf:RDF", NS)
    for key, (name, container) in XMP_OF_INFO.items():
        value = pdf_to_xmp_date(info.get(key, "")) if key in DATES else info.get(key, "")
        prop = rdf.find(f"rdf:Description/{name}", NS)
        if prop is None:  # beside a property of its schema, else in a Description of its own
            prefix, _, local = name.partition(":")
            sibling = rdf.find(f"rdf:Description/{prefix}:*", NS)
            if sibling is not None:
                parent = sibling.getparent()
            else:
                parent = etree.SubElement(rdf, f"{{{NS['rdf']}}}Description", {f"{{{NS['rdf']}}}about": ""})
            prop = etree.SubElement(parent, f"{{{NS[prefix]}}}{local}")
        for child in list(prop):
            prop.remove(child)
        if container is None:
            prop.text = value
            continue
        prop.text = None
        item = etree.SubElement(etree.SubElement(prop, f"{{{NS['rdf']}}}{container}"), f"{{{NS['rdf']}}}li")
        if container == "Alt":
            item.set(f"{{{NS['xml']}}}lang", "x-default")
        item.text = value
    etree.indent(root, space="  ")
    return "\n".join((_HEAD, etree.tostring(root, encoding="unicode"), _TAIL)).encode("utf-8")


def _set_xmp(writer: PdfWriter, packet: bytes) -> None:
    """The catalog's `/Metadata`: `packet`, in one uncompressed stream."""
    from pypdf.generic import DecodedStreamObject, NameObject

    stream = DecodedStreamObject()
    stream[NameObject("/Type")] = NameObject("/Metadata")
    stream[NameObject("/Subtype")] = NameObject("/XML")
    stream.set_data(packet)
    current = writer.root_object.get("/Metadata")
    if current is not None and hasattr(current, "idnum"):  # the same object number, its data replaced
        writer._replace_object(current, stream)
    else:
        writer.root_object[NameObject("/Metadata")] = writer._add_object(stream)


def _output_intent(writer: PdfWriter) -> None:
    """`/OutputIntents`: one PDF/A intent, sRGB, its ICC profile embedded."""
    from pypdf.generic import ArrayObject, DecodedStreamObject, DictionaryObject, NameObject, NumberObject
    from pypdf.generic import TextStringObject as Text

    profile = DecodedStreamObject()
    profile.set_data(srgb_profile())
    profile[NameObject("/N")] = NumberObject(3)
    intent = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/OutputIntent"),
            NameObject("/S"): NameObject("/GTS_PDFA1"),
            NameObject("/OutputConditionIdentifier"): Text(SRGB),
            NameObject("/Info"): Text(SRGB),
            NameObject("/RegistryName"): Text(REGISTRY),
            NameObject("/DestOutputProfile"): writer._add_object(profile.flate_encode()),
        }
    )
    writer.root_object[NameObject("/OutputIntents")] = ArrayObject([intent])


def _identify(writer: PdfWriter, file_id: tuple[bytes, bytes]) -> None:
    """The trailer's `/ID` (pypdf keeps the one of the PDF it read, else makes a random one)."""
    from pypdf.generic import ArrayObject, ByteStringObject

    writer._ID = ArrayObject([ByteStringObject(part) for part in file_id])
