"""The console's pure parts: filters, the chain and timeline layouts, sessions and CSRF
tokens, and escaping in the templates. No socket, no browser."""

from __future__ import annotations

import re

from mms_pulumi.emulator.actions import Action
from mms_pulumi.emulator.console import security, views
from mms_pulumi.emulator.console.routes import _json_problem, _templates
from mms_pulumi.emulator.scope import AccountScope, scope_of_key
from mms_pulumi.emulator.store import OperationRecord
from mms_pulumi.schema import ApiGeneration, OperationState, OperationType

SCOPE = AccountScope("sub", "rg", "acct/with space", ApiGeneration.V2017_09)
HOSTILE = "<img src=x onerror=alert(1)>"


def operation(
    ident: str,
    created: float,
    ended: float | None,
    state: OperationState = OperationState.SUCCEEDED,
    *,
    action: Action = Action.BUILD_IMAGE,
    resource: str = "image-1",
    error: dict[str, object] | None = None,
) -> OperationRecord:
    return OperationRecord(
        id=ident,
        scope=SCOPE.key,
        operation_type=OperationType.IMAGE,
        action=action,
        resource_kind=action.resource_kind,
        resource_id=resource,
        resource_location="",
        created=created,
        not_before=created,
        state=state,
        ended=ended,
        error=error,
    )


def objects() -> tuple[list[dict[str, object]], ...]:
    models: list[dict[str, object]] = [
        {"id": "m1", "name": "churn", "version": 1, "tags": ["prod"]},
        {"id": "m2", "name": "churn", "version": 2, "tags": []},
        {"id": "m3", "name": "fraud", "version": 1, "tags": ["prod"]},
    ]
    manifests: list[dict[str, object]] = [
        {"id": "f1", "name": "churn-manifest", "modelIds": ["m1"]},
        {"id": "f2", "name": "churn-next", "modelIds": ["m2"]},
    ]
    images: list[dict[str, object]] = [
        {"id": "i1", "manifestId": "f1"},  # 2017-06: no name of its own
        {"id": "i2", "name": "next-image", "manifest": {"id": "f2"}},  # 2017-09: embedded
    ]
    services: list[dict[str, object]] = [
        {"id": "s1", "name": "churn-svc", "imageId": "i1"},
        {"id": "s2", "name": "x", "imageId": "i2"},
    ]
    return models, manifests, images, services


def ids(items: list[dict[str, object]]) -> list[object]:
    return [item["id"] for item in items]


def test_a_tag_filter_keeps_the_models_with_it_and_what_was_made_of_them() -> None:
    shown = views.listing(*objects(), tag="prod")
    assert ids(shown.models) == ["m1", "m3"]
    assert ids(shown.manifests) == ["f1"]
    assert ids(shown.images) == ["i1"]
    assert ids(shown.services) == ["s1"]


def test_a_name_filter_is_case_blind_and_an_image_goes_by_its_manifests_name() -> None:
    shown = views.listing(*objects(), name="CHURN-M")
    assert ids(shown.manifests) == ["f1"]
    assert ids(shown.images) == ["i1"]  # its manifest is churn-manifest
    assert shown.models == [] and shown.services == []
    assert views.listing(*objects()).total == 9


def test_models_are_grouped_by_name_newest_version_first() -> None:
    models, *_ = objects()
    assert [(name, ids(group)) for name, group in views.model_versions(models)] == [
        ("churn", ["m2", "m1"]),
        ("fraud", ["m3"]),
    ]


def test_links_escape_every_part_of_the_account_and_id() -> None:
    assert views.account_href(SCOPE) == "/_emulator/console/accounts/sub/rg/acct%2Fwith%20space"
    assert views.object_href(SCOPE, "services", "a/b").endswith("/services/a%2Fb")
    assert views.object_href(SCOPE, "models", "m1").endswith("#model-m1")
    assert scope_of_key(SCOPE.key) == SCOPE
    legacy = AccountScope("s", "g", "a")
    assert scope_of_key(legacy.key) == legacy


def chain(models: int = 1, manifest: bool = True) -> views.Chain:
    bodies = [{"id": f"m{n}", "name": "churn", "version": n} for n in range(models)]
    operations = views.operations_by_resource(
        [
            operation("op-update", 20, 21, action=Action.UPDATE_SERVICE, resource="s1"),
            operation("op-deploy", 10, 11, action=Action.DEPLOY_SERVICE, resource="s1"),
        ]
    )
    return views.chain_of(
        SCOPE,
        {"id": "s1", "name": "svc", "state": "Succeeded"},
        {"id": "i1", "name": "img", "creationState": "Failed"},
        {"id": "f1", "name": "man"} if manifest else None,
        bodies,
        operations,
    )


def test_the_chain_is_one_column_per_kind_joined_left_to_right() -> None:
    drawn = chain(models=2)
    kinds = [node.kind for node in drawn.nodes]
    assert kinds == ["models", "models", "manifests", "images", "services"]
    columns = sorted({node.x for node in drawn.nodes})
    assert len(columns) == 4
    # Both models point at the one manifest; every other link is one arrow.
    assert len(drawn.edges) == 4
    for edge in drawn.edges:
        assert edge.x2 - edge.x1 == views.COLUMN_GAP
    for node in drawn.nodes:
        assert node.x >= 0 and node.x + views.NODE_WIDTH <= drawn.width
        assert node.y >= 0 and node.y + views.NODE_HEIGHT <= drawn.height
    service = drawn.nodes[-1]
    # The first operation made it; the update came after.
    assert service.made_by == "service deployment op-deplo (Succeeded), then 1 more"
    assert service.made_by_label == "deployment op-deplo +1"
    assert drawn.nodes[0].made_by == views.SYNCHRONOUS
    assert drawn.nodes[0].name == "churn v0" and drawn.nodes[3].css == "failed"


def test_a_link_gone_from_the_chain_is_bridged() -> None:
    drawn = chain(manifest=False)
    assert [node.kind for node in drawn.nodes] == ["models", "images", "services"]
    assert len(drawn.edges) == 2  # model → image, image → service


def test_the_timeline_draws_bursts_to_scale_and_idle_stretches_short() -> None:
    records = [
        operation("a", 100.0, 102.0),
        operation("b", 102.5, 104.0, OperationState.FAILED, error={"message": "boom"}),
        operation("c", 1000.0, None, OperationState.RUNNING),  # still running at now
    ]
    drawn = views.timeline_of(SCOPE, records, now=1003.0)
    a, b, c = drawn.bars
    # a and b are one burst (0.5 s apart): one scale, so b starts where its time says.
    scale = a.width / 2.0
    assert abs((b.x - a.x) - 2.5 * scale) < 0.2
    # c is 896 s later: one gap of fixed width between the bursts, not 896 s of track.
    assert len(drawn.gaps) == 1 and drawn.gaps[0].seconds == 896.0
    assert abs(c.x - (a.x + 4.0 * scale + views.GAP_WIDTH)) < 0.2
    assert c.finished is None and c.seconds == 3.0
    right = drawn.width - views.MARGIN
    for bar in drawn.bars:
        assert bar.x >= views.LABEL_WIDTH and bar.x + bar.width <= right + 0.2
    assert b.error == "boom" and b.css == "failed" and c.css == "running"
    assert drawn.seconds == 903.0
    assert [bar.y for bar in drawn.bars] == sorted(bar.y for bar in drawn.bars)


def test_an_empty_timeline_and_a_detail_said_once() -> None:
    assert views.timeline_of(SCOPE, [], now=0).bars == []
    error = {
        "message": "Image build failed: asset missing",
        "details": [
            {"code": "UrlUnreadable", "message": "asset missing"},
            {"code": "Other", "message": "something else"},
        ],
    }
    assert views.error_text(error) == "Image build failed: asset missing — Other: something else"


def test_sessions_and_csrf_tokens_hold_only_under_their_secret() -> None:
    secret, other = security.new_secret(), security.new_secret()
    now = 1_000_000.0
    cookie = security.new_session(secret, now)
    nonce = security.session_nonce(secret, cookie, now)
    assert nonce is not None
    assert security.session_nonce(other, cookie, now) is None  # another run or emulator
    forged = cookie[:-1] + ("1" if cookie.endswith("0") else "0")  # another last digit
    assert security.session_nonce(secret, forged, now) is None
    for junk in (None, "", "no-dot", "a.b", "é.1.x", "a.1." + "f" * 300, "a.-1.f"):
        assert security.session_nonce(secret, junk, now) is None
    # It lasts SESSION_SECONDS, and not from before it was issued.
    later = now + security.SESSION_SECONDS
    assert security.session_nonce(secret, cookie, later) == nonce
    assert security.session_nonce(secret, cookie, later + 1) is None
    assert security.session_nonce(secret, cookie, now - 1) is None
    # Signed out: refused, and the list of signed-out sessions stays bounded.
    signed_out = security.SignedOut(limit=2)
    signed_out.add(nonce)
    assert security.session_nonce(secret, cookie, now, signed_out) is None
    signed_out.add("b")
    signed_out.add("c")
    assert nonce not in signed_out and "c" in signed_out
    token = security.csrf_token(secret, nonce)
    assert security.csrf_problem(secret, nonce, token) is None
    assert security.csrf_problem(secret, nonce, None) is not None
    assert security.csrf_problem(secret, nonce, security.csrf_token(other, nonce)) is not None
    assert security.csrf_problem(secret, None, token) is not None
    assert security.token_matches("s3cret", "s3cret")
    assert not security.token_matches("s3cre", "s3cret")
    assert security.cookie_name(5080) != security.cookie_name(5081)


def test_a_pasted_input_is_checked_as_json() -> None:
    assert _json_problem(b'{"a": 1}') is None
    assert (
        _json_problem(b"{")
        == "Expecting property name enclosed in double quotes at line 1, column 2"
    )
    assert _json_problem(b"\xff") == "it is not UTF-8 text"
    assert _json_problem(b"[" * 100_000) == "it is nested too deeply"
    assert (
        _json_problem(b"1" * 5000)
        == "exceeds the limit (4300 digits) for integer string conversion"
    )


def render(template: str, **context: object) -> str:
    base = {"csrf": "tok", "csrf_field": "csrf", "token_required": False, "signed_in": True}
    return _templates.get_template(template).render(**base, **context)


def test_hostile_names_render_as_text_in_the_chain_and_the_timeline() -> None:
    drawn = views.chain_of(
        SCOPE,
        {"id": HOSTILE, "name": HOSTILE, "state": "Running"},
        None,
        None,
        [{"id": "m", "name": HOSTILE, "tags": [HOSTILE]}],
        {},
    )
    record = operation("x", 1, 2, OperationState.FAILED, error={"message": HOSTILE})
    html = render("_chain.html", chain=drawn) + render(
        "_timeline.html", timeline=views.timeline_of(SCOPE, [record], now=3)
    )
    assert "<img" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    # Attributes too: the id is in data-id and in an href, escaped in both.
    assert not re.search(r'data-id="[^"]*<', html)
    assert "%3Cimg%20src%3Dx%20onerror%3Dalert%281%29%3E" in html
