"""Virtual waiting room in front of a session's sale (the rush).

Database-backed so every server process agrees:

* arrivals are numbered 1, 2, 3... per session under the room row lock (``FOR UPDATE``), so
  the order of arrival is gapless and fair; a visitor re-joining with their entry token keeps
  their number;
* admission is a pure function of time: ``admitted_up_to = floor(rate * minutes since
  opens_at)``; a visitor's position is ``seq - admitted_up_to`` (admitted when <= 0). No
  background job;
* once admitted the visitor gets an admission token, valid ``admission_minutes`` after their
  turn came, that ``sales.create_hold`` requires while the room is enabled.

Admission token layout (ASCII): ``v1.<seq>.<expires_unix>.<sig>`` where ``sig`` is the
unpadded base64url HMAC-SHA256, under the room's secret, of
``"<tenant_id>|<session_id>|<seq>|<expires_unix>"``. The secret lives in the room row (32
random bytes, made when the room is first configured), so all processes verify alike.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass

import sqlalchemy as sa

from teranga.platform.clock import utcnow
from teranga.platform.crypto import b64url
from teranga.platform.errors import Forbidden, NotFound, ValidationFailed
from teranga.platform.ids import new_id
from teranga.platform.uow import UnitOfWork
from teranga.ticketing.models import QueueEntry, TicketSession, WaitingRoom

ADMISSION_FORMAT = "v1"
_MINUTE_US = 60_000_000


# -- pure logic --------------------------------------------------------------------------


def _micros(delta: dt.timedelta) -> int:
    return delta // dt.timedelta(microseconds=1)


def admitted_up_to(rate_per_minute: int, opens_at: dt.datetime, now: dt.datetime) -> int:
    """How many arrivals are admitted at ``now``: ``floor(rate * minutes since opens_at)``."""
    if now <= opens_at:
        return 0
    return rate_per_minute * _micros(now - opens_at) // _MINUTE_US


def admitted_at(rate_per_minute: int, opens_at: dt.datetime, seq: int) -> dt.datetime:
    """The first moment at which arrival ``seq`` is admitted."""
    # Smallest t with rate * t // MINUTE >= seq, i.e. t = ceil(seq * MINUTE / rate).
    micros = -(-seq * _MINUTE_US // rate_per_minute)
    return opens_at + dt.timedelta(microseconds=micros)


def _message(tenant_id: uuid.UUID, session_id: uuid.UUID, seq: int, expires: int) -> bytes:
    return f"{tenant_id}|{session_id}|{seq}|{expires}".encode()


def sign_admission(
    secret: bytes, tenant_id: uuid.UUID, session_id: uuid.UUID, seq: int, expires: dt.datetime
) -> str:
    exp = int(expires.timestamp())
    mac = hmac.new(secret, _message(tenant_id, session_id, seq, exp), hashlib.sha256).digest()
    return f"{ADMISSION_FORMAT}.{seq}.{exp}.{b64url(mac)}"


def verify_admission(
    secret: bytes,
    tenant_id: uuid.UUID,
    session_id: uuid.UUID,
    token: str,
    now: dt.datetime,
) -> int:
    """Return the admitted arrival number, or raise 403 ``ticketing.not_admitted``."""
    parts = token.split(".")
    if len(parts) != 4 or parts[0] != ADMISSION_FORMAT:
        raise _not_admitted("the admission token is malformed")
    _, seq_s, exp_s, sig = parts
    if not (seq_s.isdigit() and exp_s.isdigit()) or len(seq_s) > 12 or len(exp_s) > 12:
        raise _not_admitted("the admission token is malformed")
    seq, exp = int(seq_s), int(exp_s)
    mac = hmac.new(secret, _message(tenant_id, session_id, seq, exp), hashlib.sha256).digest()
    if not hmac.compare_digest(sig.encode(), b64url(mac).encode()):
        raise _not_admitted("the admission token is not valid for this session")
    if now.timestamp() >= exp:
        raise _not_admitted("the admission token has expired; join the waiting room again")
    return seq


def _not_admitted(detail: str) -> Forbidden:
    return Forbidden("ticketing.not_admitted", f"not admitted to this sale: {detail}")


def entry_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# -- views -------------------------------------------------------------------------------


@dataclass(frozen=True)
class RoomView:
    session_id: uuid.UUID
    enabled: bool
    rate_per_minute: int
    opens_at: dt.datetime
    admission_minutes: int
    joined: int  # arrivals so far
    admitted_up_to: int


@dataclass(frozen=True)
class QueueStatus:
    session_id: uuid.UUID
    seq: int
    position: int  # 0 once admitted
    admitted: bool
    estimated_wait_seconds: int
    admitted_at: dt.datetime
    admission_token: str | None  # while admitted and not expired
    admission_expires_at: dt.datetime | None
    expired: bool  # the admission window passed: join again


@dataclass(frozen=True)
class JoinResult:
    entry_token: str  # shown once; keeps the visitor's place when re-joining
    status: QueueStatus


def _room_view(room: WaitingRoom, now: dt.datetime) -> RoomView:
    return RoomView(
        room.session_id,
        room.enabled,
        room.rate_per_minute,
        room.opens_at,
        room.admission_minutes,
        room.last_seq,
        min(room.last_seq, admitted_up_to(room.rate_per_minute, room.opens_at, now)),
    )


def _status(room: WaitingRoom, seq: int, now: dt.datetime) -> QueueStatus:
    upto = admitted_up_to(room.rate_per_minute, room.opens_at, now)
    turn = admitted_at(room.rate_per_minute, room.opens_at, seq)
    expires = turn + dt.timedelta(minutes=room.admission_minutes)
    admitted = seq <= upto
    expired = admitted and now >= expires
    token = None
    if admitted and not expired:
        token = sign_admission(room.secret, room.tenant_id, room.session_id, seq, expires)
    wait = max(0, -(-_micros(turn - now) // 1_000_000))
    return QueueStatus(
        room.session_id,
        seq,
        max(0, seq - upto),
        admitted,
        wait,
        turn,
        token,
        expires if admitted else None,
        expired,
    )


# -- service -----------------------------------------------------------------------------


def _room(uow: UnitOfWork, session_id: uuid.UUID, *, lock: bool = False) -> WaitingRoom | None:
    q = sa.select(WaitingRoom).where(
        WaitingRoom.tenant_id == uow.require_tenant(), WaitingRoom.session_id == session_id
    )
    if lock:
        q = q.with_for_update()
    return uow.session.scalars(q.execution_options(populate_existing=True)).one_or_none()


def _session(uow: UnitOfWork, session_id: uuid.UUID) -> TicketSession:
    s = uow.session.get(TicketSession, session_id)
    if s is None or s.tenant_id != uow.require_tenant():
        raise NotFound("ticketing.session_not_found", "no such session")
    return s


def _open_room(uow: UnitOfWork, session_id: uuid.UUID, *, lock: bool = False) -> WaitingRoom:
    _session(uow, session_id)
    room = _room(uow, session_id, lock=lock)
    if room is None or not room.enabled:
        raise NotFound("ticketing.no_waiting_room", "this session has no open waiting room")
    return room


def configure(
    uow: UnitOfWork,
    *,
    session_id: uuid.UUID,
    enabled: bool,
    rate_per_minute: int,
    opens_at: dt.datetime,
    admission_minutes: int = 10,
    now: dt.datetime | None = None,
) -> RoomView:
    """Create or change a session's waiting room (organiser). Arrival numbers are kept."""
    moment = now if now is not None else utcnow()
    if rate_per_minute < 1:
        raise ValidationFailed("rate_per_minute", "must be at least 1")
    if not 1 <= admission_minutes <= 120:
        raise ValidationFailed("admission_minutes", "between 1 and 120")
    if opens_at.tzinfo is None:
        raise ValidationFailed("opens_at", "give a time zone")
    s = _session(uow, session_id)
    room = _room(uow, session_id, lock=True)
    if room is None:
        room = WaitingRoom(
            id=new_id(),
            tenant_id=s.tenant_id,
            session_id=s.id,
            last_seq=0,
            secret=secrets.token_bytes(32),
        )
        uow.session.add(room)
    room.enabled = enabled
    room.rate_per_minute = rate_per_minute
    room.opens_at = opens_at
    room.admission_minutes = admission_minutes
    room.updated_at = moment
    uow.session.flush()
    return _room_view(room, moment)


def get_room(uow: UnitOfWork, session_id: uuid.UUID, now: dt.datetime | None = None) -> RoomView:
    _session(uow, session_id)
    room = _room(uow, session_id)
    if room is None:
        raise NotFound("ticketing.no_waiting_room", "this session has no waiting room")
    return _room_view(room, now if now is not None else utcnow())


def _entry(uow: UnitOfWork, session_id: uuid.UUID, token: str) -> QueueEntry | None:
    return uow.session.scalars(
        sa.select(QueueEntry).where(
            QueueEntry.tenant_id == uow.require_tenant(),
            QueueEntry.session_id == session_id,
            QueueEntry.entry_hash == entry_hash(token),
        )
    ).one_or_none()


def join(
    uow: UnitOfWork,
    *,
    session_id: uuid.UUID,
    entry_token: str | None = None,
    now: dt.datetime | None = None,
) -> JoinResult:
    """Take a number. With a known entry token the visitor keeps their place (unless their
    admission window expired: then they go to the back)."""
    moment = now if now is not None else utcnow()
    room = _open_room(uow, session_id)
    if entry_token:
        found = _entry(uow, session_id, entry_token)
        if found is not None:
            st = _status(room, found.seq, moment)
            if not st.expired:
                return JoinResult(entry_token, st)
    # The room row lock serialises numbering across processes: gapless, in arrival order.
    room = _open_room(uow, session_id, lock=True)
    room.last_seq += 1
    token = secrets.token_urlsafe(24)
    uow.session.add(
        QueueEntry(
            id=new_id(),
            tenant_id=room.tenant_id,
            session_id=session_id,
            seq=room.last_seq,
            entry_hash=entry_hash(token),
            joined_at=moment,
        )
    )
    uow.session.flush()
    return JoinResult(token, _status(room, room.last_seq, moment))


def status(
    uow: UnitOfWork,
    *,
    session_id: uuid.UUID,
    entry_token: str | None,
    now: dt.datetime | None = None,
) -> QueueStatus:
    """Where the visitor stands; carries the admission token once their turn came."""
    room = _open_room(uow, session_id)
    if not entry_token:
        raise ValidationFailed("entry", "give the entry token returned when joining")
    found = _entry(uow, session_id, entry_token)
    if found is None:
        raise NotFound("ticketing.queue_entry_not_found", "unknown entry token for this session")
    return _status(room, found.seq, now if now is not None else utcnow())


def check_admission(
    uow: UnitOfWork, session: TicketSession, token: str | None, now: dt.datetime
) -> None:
    """Raise 403 unless the room is disabled/absent or ``token`` admits to ``session`` now."""
    check_room_admission(_room(uow, session.id), session, token, now)


def room_of(uow: UnitOfWork, session_id: uuid.UUID) -> WaitingRoom | None:
    return _room(uow, session_id)


def check_room_admission(
    room: WaitingRoom | None, session: TicketSession, token: str | None, now: dt.datetime
) -> None:
    """``check_admission`` with the session's room already read."""
    if room is None or not room.enabled:
        return
    if not token:
        raise _not_admitted("this sale has a waiting room; join it and wait for your turn")
    verify_admission(room.secret, session.tenant_id, session.id, token, now)
