// SPDX-License-Identifier: GPL-2.0
/*
 * Kernel byte counters count sequence space: an active opener's SYN and an
 * acknowledged FIN each add 1 to bytes_acked, a received FIN adds 1 to
 * bytes_received.  These turn them back into payload (README, "Exact
 * payload bytes").
 */
#include "session.h"

static int64_t clamp0(int64_t v)
{
	return v < 0 ? 0 : v;
}

/* States in which the peer's FIN has been received by a full socket. */
static bool state_has_peer_fin(uint8_t state)
{
	return state == TS_CLOSE_WAIT || state == TS_LAST_ACK ||
	       state == TS_CLOSING;
}

/*
 * A full socket leaves FIN_WAIT1/CLOSING/LAST_ACK the moment its FIN is
 * acknowledged, so among dumped states only FIN_WAIT2 holds an acked FIN.
 */
static int state_fin_acked(uint8_t state)
{
	return state == TS_FIN_WAIT2;
}

int ts_sample_fin_acked(const struct ts_sample *s)
{
	return state_fin_acked(s->state);
}

/*
 * 1: active opener, 0: passive, -1: cannot tell exactly.  With nothing
 * retransmitted and nothing in flight, bytes_sent is exactly the payload
 * that bytes_acked covers, so their difference is SYN + acked FIN.
 */
int ts_sample_syn_rule(const struct ts_sample *s)
{
	int64_t extra;

	if (s->payload)
		return 0;
	if (s->state == TS_SYN_SENT)
		return 1;
	/* Past SYN_SENT an active opener's SYN is acked: bytes_acked >= 1. */
	if (!s->bytes_acked)
		return 0;
	if (!s->has_sent || s->bytes_retrans || s->unacked)
		return -1;
	extra = (int64_t)(s->bytes_acked - s->bytes_sent) -
		state_fin_acked(s->state);
	if (extra == 0 || extra == 1)
		return (int)extra;
	return -1;
}

/* SYN_SENT: the SYN is not in bytes_acked until it is acknowledged. */
int64_t ts_payload_tx(uint64_t acked, int syn, int fin)
{
	return clamp0((int64_t)acked - syn - fin);
}

int64_t ts_sample_tx(const struct ts_sample *s, int syn)
{
	if (s->payload)
		return (int64_t)s->bytes_acked;
	return ts_payload_tx(s->bytes_acked, syn, state_fin_acked(s->state));
}

int64_t ts_sample_rx(const struct ts_sample *s)
{
	if (s->payload)
		return (int64_t)s->bytes_received;
	return clamp0((int64_t)s->bytes_received - state_has_peer_fin(s->state));
}

int64_t ts_close_tx(const struct ts_close_event *ev, int syn)
{
	return ts_payload_tx(ev->bytes_acked, syn,
			     !!(ev->flags & TS_CF_FIN_ACKED));
}

int64_t ts_close_rx(const struct ts_close_event *ev)
{
	int fin = !!(ev->flags & TS_CF_PEER_FIN);

	return clamp0((int64_t)ev->bytes_received - fin);
}

/*
 * The session table sees a sample only through this: one call turns the
 * kernel's view into payload terms, so the rules live here alone.
 */
void ts_obs_of_sample(const struct ts_sample *s, struct ts_obs *o)
{
	o->acked = s->bytes_acked;
	o->rx = ts_sample_rx(s);
	o->fin = s->payload ? 0 : (uint8_t)state_fin_acked(s->state);
	o->syn_rule = (int8_t)ts_sample_syn_rule(s);
	/* A listener on the local port hints "accepted", nothing more. */
	o->syn_guess = o->syn_rule >= 0 ? (uint8_t)o->syn_rule :
		       !s->listener_on_lport;
}

void ts_obs_of_close(const struct ts_close_event *ev, struct ts_obs *o)
{
	o->acked = ev->bytes_acked;
	o->rx = ts_close_rx(ev);
	o->fin = !!(ev->flags & TS_CF_FIN_ACKED);
	o->syn_guess = !!(ev->flags & TS_CF_ACTIVE);
	o->syn_rule = (ev->flags & TS_CF_ACTIVE_KNOWN) ? (int8_t)o->syn_guess : -1;
}

static const char *const state_names[TS_MAX_STATES] = {
	[TS_ESTABLISHED] = "ESTABLISHED",
	[TS_SYN_SENT] = "SYN_SENT",
	[TS_SYN_RECV] = "SYN_RECV",
	[TS_FIN_WAIT1] = "FIN_WAIT1",
	[TS_FIN_WAIT2] = "FIN_WAIT2",
	[TS_TIME_WAIT] = "TIME_WAIT",
	[TS_CLOSE] = "CLOSED",
	[TS_CLOSE_WAIT] = "CLOSE_WAIT",
	[TS_LAST_ACK] = "LAST_ACK",
	[TS_LISTEN] = "LISTEN",
	[TS_CLOSING] = "CLOSING",
	[TS_NEW_SYN_RECV] = "NEW_SYN_RECV",
};

const char *ts_state_name(uint8_t state)
{
	if (state >= TS_MAX_STATES || !state_names[state])
		return "UNKNOWN";
	return state_names[state];
}
