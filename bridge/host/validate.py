"""``ddbridge extension validate IMAGE|metadata.json``: what ``docker extension validate`` checks.

For a metadata.json (or an extension folder holding one), the file is read with the loader that
``dev`` and ``run`` use (``bridge.extension.metadata``): an error is a problem, and so is each of
its warnings (a field ddbridge does not know, an unknown platform, no UI). For an image, its
metadata.json is read out of it as ``run`` does (``extract_extension``), and its labels are held
to what Docker Desktop requires of an extension image (docs.docker.com, "Extension image labels";
its Marketplace lists no image without them): present and not empty, the JSON ones parsing to
the documented shape, the URLs http(s), the API version a semver constraint (``>= 0.3.0``).

Each problem is one line that names where it is; no problem means the extension is valid.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bridge.config import ExtensionSettings, Settings
from bridge.docker_engine import DockerEngine, EngineAddress
from bridge.errors import ConfigError
from bridge.extension.image import (
    API_LABEL,
    TITLE_LABEL,
    VENDOR_LABEL,
    default_cache_dir,
    extract_extension,
    inspect_image,
)
from bridge.extension.metadata import Metadata, MetadataError, load_metadata, parse_metadata
from bridge.progress import Progress

DESCRIPTION_LABEL = "org.opencontainers.image.description"
ICON_LABEL = "com.docker.desktop.extension.icon"
SCREENSHOTS_LABEL = "com.docker.extension.screenshots"
DETAILED_DESCRIPTION_LABEL = "com.docker.extension.detailed-description"
PUBLISHER_URL_LABEL = "com.docker.extension.publisher-url"
ADDITIONAL_URLS_LABEL = "com.docker.extension.additional-urls"
CHANGELOG_LABEL = "com.docker.extension.changelog"
ACCOUNT_INFO_LABEL = "com.docker.extension.account-info"
CATEGORIES_LABEL = "com.docker.extension.categories"

# The labels Docker Desktop requires, with what each one gives.
REQUIRED = {
    TITLE_LABEL: "the extension's title",
    DESCRIPTION_LABEL: "its one-line description",
    VENDOR_LABEL: "its provider",
    API_LABEL: "the extension API versions it works with",
    ICON_LABEL: "its icon's URL",
    SCREENSHOTS_LABEL: "its screenshots, as JSON",
    DETAILED_DESCRIPTION_LABEL: "its description for the details page",
    PUBLISHER_URL_LABEL: "its publisher's website",
    CHANGELOG_LABEL: "this version's changes",
}
CATEGORIES = frozenset(
    {
        "ci-cd",
        "container-orchestration",
        "cloud-deployment",
        "cloud-development",
        "database",
        "kubernetes",
        "networking",
        "image-registry",
        "security",
        "testing-tools",
        "utility-tools",
        "volumes",
    }
)

# A semantic version constraint as Docker's extension manager reads it: ``0.1.0``, ``>= 0.1.0``,
# ``>= 1.4.7, < 2.0``, ``^1.2 || ~2.0.x``, ``1.2 - 1.4``.
_VERSION = r"v?\d+(?:\.(?:\d+|[xX*])){0,2}(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?"
_ONE = rf"(?:{_VERSION}\s+-\s+{_VERSION}|(?:(?:!=|>=|<=|=>|=<|~>|[=><~^])\s*)?{_VERSION})"
_ALL = rf"{_ONE}(?:(?:\s*,\s*|\s+){_ONE})*"
_CONSTRAINT = re.compile(rf"\s*{_ALL}(?:\s*\|\|\s*{_ALL})*\s*", re.ASCII)


def _is_web_url(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def _links(value: str, text_field: str) -> str | None:
    """What is wrong with a JSON list of ``{text_field, "url"}`` objects, or None."""
    try:
        items = json.loads(value)
    except ValueError as exc:
        return f"is not valid JSON ({exc})"
    if not isinstance(items, list):
        return f'must be a JSON array of {{"{text_field}": ..., "url": ...}} objects'
    for number, item in enumerate(items, 1):
        if not isinstance(item, dict) or not isinstance(item.get(text_field), str):
            return f'item {number} must be an object with a string "{text_field}"'
        if not _is_web_url(item.get("url")):
            return f"item {number} has no http(s) url: {item.get('url')!r}"
    return None


def _icon(value: str) -> str | None:
    if _is_web_url(value) or value.startswith("data:image/"):
        return None
    return f"must be the URL of the icon (.svg, .png or .jpg), not {value!r}"


def _api_version(value: str) -> str | None:
    if _CONSTRAINT.fullmatch(value):
        return None
    return f"{value!r} is not a semantic version or constraint (such as 0.3.4 or >= 0.3.0)"


def _publisher_url(value: str) -> str | None:
    return None if _is_web_url(value) else f"{value!r} is not an http(s) URL"


def _categories(value: str) -> str | None:
    unknown = [name for name in (part.strip() for part in value.split(",")) if name not in CATEGORIES]
    if not unknown:
        return None
    return f"names unknown categories {unknown!r}: use some of {', '.join(sorted(CATEGORIES))}"


def _account_info(value: str) -> str | None:
    return None if value in ("", "required") else f"must be 'required' or empty, not {value!r}"


# The checks of a label's value, when it has one.
_CHECKS: dict[str, Callable[[str], str | None]] = {
    API_LABEL: _api_version,
    ICON_LABEL: _icon,
    SCREENSHOTS_LABEL: lambda value: _links(value, "alt"),
    PUBLISHER_URL_LABEL: _publisher_url,
    ADDITIONAL_URLS_LABEL: lambda value: _links(value, "title"),
    CATEGORIES_LABEL: _categories,
    ACCOUNT_INFO_LABEL: _account_info,
}


def label_problems(labels: Mapping[str, str], image: str) -> list[str]:
    """What is wrong with an extension image's labels, each on a line naming ``image``."""
    found = []
    for label, gives in REQUIRED.items():
        if label not in labels:
            found.append(f"{image}: the label {label} is missing ({gives}; Docker Desktop requires it)")
        elif not labels[label].strip():
            found.append(f"{image}: the label {label} is empty ({gives}; Docker Desktop requires it)")
    for label, check in _CHECKS.items():
        value = labels.get(label, "")
        problem = check(value) if value.strip() else None
        if problem is not None:
            found.append(f"{image}: the label {label} {problem}")
    return found


def problems(metadata: Metadata, labels: Mapping[str, str] | None = None, image: str = "") -> list[str]:
    """The problems of an extension: its metadata.json's (the loader's warnings), then, for an
    image, its labels' (``labels`` None: a metadata.json alone, which has none)."""
    found = list(metadata.warnings)
    if labels is not None:
        found.extend(label_problems(labels, image))
    return found


def validate_file(path: Path) -> list[str]:
    """The problems of a metadata.json file, or of the one in the extension folder ``path``; a
    file that is not there or cannot be read is a ``ConfigError``, as any bad argument."""
    try:
        metadata = load_metadata(path) if path.is_dir() else parse_metadata(path.read_bytes(), str(path))
    except MetadataError as exc:
        return [str(exc)]
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from exc
    return problems(metadata)


async def validate_image(
    engine: DockerEngine, image: str, cache_dir: Path, limits: ExtensionSettings, progress: Progress
) -> list[str]:
    """The problems of the extension image ``image`` on the engine: its metadata.json, the files it
    names (read out as ``run`` reads them) and its labels. ``ImageNotFound`` when it is not there;
    an engine that does not answer is an ``ExtensionError``."""
    info = await inspect_image(engine, image)
    labels: dict[str, str] = (info.get("Config") or {}).get("Labels") or {}
    source = f"{image}:/metadata.json"
    try:
        extension = await extract_extension(engine, image, cache_dir, limits, progress)
    except MetadataError as exc:
        return [str(exc), *label_problems(labels, image)]
    # Read again, for the loader's own warnings: the extraction adds its reports of the labels.
    metadata = parse_metadata((extension.root / "metadata.json").read_bytes(), source)
    found = problems(metadata, labels, image)
    if metadata.icon is not None and extension.icon_file() is None:
        found.append(f"{source}: the icon /{metadata.icon} is not in the image")
    return found


def is_file_target(target: str) -> bool:
    """Whether ``validate TARGET`` names a file or folder rather than an image: it exists, or it
    names a .json file (which is then reported missing, not looked up as an image)."""
    return Path(target).exists() or target.endswith(".json")


async def validate_target(
    target: str, settings: Settings, cache_dir: Path | None = None, progress: Progress | None = None
) -> list[str]:
    """``validate TARGET``: a metadata.json, an extension folder, or an image on the engine the
    settings name (its files extracted into ``cache_dir``, by default ``run``'s cache)."""
    if is_file_target(target):
        return validate_file(Path(target))
    engine = DockerEngine(EngineAddress.resolve(settings.docker))
    try:
        return await validate_image(
            engine,
            target,
            (cache_dir or default_cache_dir()).expanduser().resolve(),
            settings.extension,
            progress or Progress(),
        )
    finally:
        await engine.aclose()
