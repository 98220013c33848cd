/* SPDX-License-Identifier: MIT */
/*
 * framebusmodule.c — framebus._framebus, the CPython binding of
 * libframebus: Subscriber, Frame, Publisher, Slot.  Frames and slots lend
 * their shared memory through View objects (buffer protocol, no copy).
 * numpy gives a Py_buffer back at once and keeps only a reference to the
 * exporter, so the export count cannot pin a frame: a View's lifetime
 * does.  Every array made from a View keeps it alive; while any View of a
 * frame lives the frame is not handed back, so no array ever outlives the
 * memory under it (framebus/__init__.py builds the numpy arrays).
 *
 * Threads: blocking calls run without the GIL, each handle's C calls under
 * its own mutex.  A frame released while another thread waits in next()
 * (an array dropped elsewhere) is queued and handed back by that thread,
 * so the C handle is never used from two threads at once.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>

#include <framebus.h>
#include <pthread.h>
#include <string.h>

static PyObject *FramebusError;
static PyObject *DisconnectedError;

/* An exception for code rc with the library's detail text. */
static PyObject *
raise_rc(int rc, const char *detail)
{
	PyObject *exc = rc == FBUS_EDISCONNECTED ? DisconnectedError
	              : rc == FBUS_EINVAL        ? PyExc_ValueError
	              : rc == FBUS_ENOMEM        ? PyExc_MemoryError
	                                         : FramebusError;
	PyObject *args;

	if (!detail || !detail[0])
		detail = fbus_strerror(rc);
	if (exc == PyExc_ValueError || exc == PyExc_MemoryError) {
		PyErr_SetString(exc, detail);
		return NULL;
	}
	/* OSError(errno, strerror): .errno is the positive errno */
	args = Py_BuildValue("(is)", -rc, detail);
	if (args) {
		PyErr_SetObject(exc, args);
		Py_DECREF(args);
	}
	return NULL;
}

/* A frame's layout as the dict framebus/__init__.py shapes arrays by. */
static PyObject *
layout_dict(const struct fbus_format *m)
{
	return Py_BuildValue("{sIsIsIsIs(III)s(III)sI}", "pixfmt", m->pixfmt,
	                     "width", m->width, "height", m->height,
	                     "nplanes", m->nplanes, "stride", m->stride[0],
	                     m->stride[1], m->stride[2], "offset",
	                     m->offset[0], m->offset[1], m->offset[2], "size",
	                     m->size);
}

/* ---- Subscriber --------------------------------------------------------- */

typedef struct {
	PyObject_HEAD
	struct fbus_sub *sub;  /* NULL once really closed */
	pthread_mutex_t mu;    /* held by whoever calls into sub */
	pthread_mutex_t pmu;   /* guards pending */
	struct fbus_frame pending[FBUS_MAX_HELD];
	int npending;
	unsigned hold;
	int closed;            /* close() was called */
	int busy;              /* a thread is inside next() (GIL released) */
	Py_ssize_t live;       /* frames delivered, not yet handed back */
	char uri[512];
} SubObject;

typedef struct {
	PyObject_HEAD
	SubObject *owner;
	struct fbus_frame fr;
	Py_ssize_t exports;
	int want_release;
	int released;
	Py_ssize_t shape[1];
} FrameObject;

static PyTypeObject SubType, FrameType;

/* With mu held. */
static void
flush_pending(SubObject *s)
{
	pthread_mutex_lock(&s->pmu);
	for (int i = 0; i < s->npending; i++)
		fbus_sub_release(s->sub, &s->pending[i]);
	s->npending = 0;
	pthread_mutex_unlock(&s->pmu);
}

/* The real close, once nothing is held and nobody waits in next(). */
static void
sub_maybe_close(SubObject *s)
{
	if (!s->sub || !s->closed || s->live || s->busy)
		return;
	pthread_mutex_lock(&s->mu);
	flush_pending(s);
	fbus_sub_close(s->sub);
	s->sub = NULL;
	pthread_mutex_unlock(&s->mu);
}

/* GIL held. */
static void
frame_give_back(FrameObject *f)
{
	SubObject *s = f->owner;

	if (f->released)
		return;
	f->released = 1;
	if (pthread_mutex_trylock(&s->mu) == 0) {
		fbus_sub_release(s->sub, &f->fr);
		flush_pending(s);
		pthread_mutex_unlock(&s->mu);
	} else {
		/* another thread is in next(): it hands this back */
		pthread_mutex_lock(&s->pmu);
		s->pending[s->npending++] = f->fr;
		pthread_mutex_unlock(&s->pmu);
	}
	s->live--;
	sub_maybe_close(s);
}

static int
Sub_init(SubObject *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = { "uri", "mode", "depth", "policy",
		                  "block_ms", "reconnect", "hold", "pixfmt",
		                  "max_bytes", "group", NULL };
	PyObject *uriobj, *seq = NULL;
	const char *group = NULL;
	const char *uri, *uris[FBUS_MAX_BUSES];
	Py_ssize_t nuris = 0;
	unsigned mode = 0, depth = 0, policy = 0, block_ms = 0, hold = 1;
	unsigned pixfmt = 0;
	unsigned long long max_bytes = 0;
	int reconnect = 0, rc;
	struct fbus_sub_opts o;
	struct fbus_sub *sub = NULL;

	if (self->sub) {
		PyErr_SetString(PyExc_RuntimeError, "Subscriber already open");
		return -1;
	}
	if (!PyArg_ParseTupleAndKeywords(args, kw, "O|IIIIpIIKz", kwlist,
	                                 &uriobj, &mode, &depth, &policy,
	                                 &block_ms, &reconnect, &hold, &pixfmt,
	                                 &max_bytes, &group))
		return -1;
	if (hold < 1 || hold > FBUS_MAX_HELD) {
		PyErr_Format(PyExc_ValueError, "hold must be 1..%u, not %u",
		             FBUS_MAX_HELD, hold);
		return -1;
	}
	/* one URI, or a list of them: one subscriber over several buses */
	if (PyUnicode_Check(uriobj)) {
		if (!(uri = PyUnicode_AsUTF8(uriobj)))
			return -1;
	} else {
		seq = PySequence_Fast(uriobj, "uri: a string or a list of "
		                              "strings");
		if (!seq)
			return -1;
		nuris = PySequence_Fast_GET_SIZE(seq);
		if (nuris < 1 || nuris > FBUS_MAX_BUSES) {
			PyErr_Format(PyExc_ValueError, "1 to %u URIs, not %zd",
			             FBUS_MAX_BUSES, nuris);
			Py_DECREF(seq);
			return -1;
		}
		for (Py_ssize_t i = 0; i < nuris; i++) {
			PyObject *u = PySequence_Fast_GET_ITEM(seq, i);

			if (!PyUnicode_Check(u) || !(uris[i] = PyUnicode_AsUTF8(u))) {
				if (!PyErr_Occurred())
					PyErr_SetString(PyExc_TypeError,
					                "uri: a list of strings");
				Py_DECREF(seq);
				return -1;
			}
		}
		uri = uris[0];
	}
	memset(&o, 0, sizeof o);
	o.size = sizeof o;
	o.mode = mode;
	o.depth = depth;
	o.full_policy = policy;
	o.block_ms = block_ms;
	o.flags = reconnect ? FBUS_SUB_RECONNECT : 0;
	/* never 1: with one the C library releases the frame in hand at
	 * the next next(), and an array may still show it.  We count (and
	 * refuse past hold) ourselves. */
	o.max_held = hold < 2 ? 2 : hold;
	o.pixfmt = pixfmt;
	o.max_frame_bytes = max_bytes;
	o.group = group;
	Py_BEGIN_ALLOW_THREADS
	rc = seq ? fbus_sub_open_many(&sub, uris, (size_t)nuris, &o)
	         : fbus_sub_open(&sub, uri, &o);
	Py_END_ALLOW_THREADS
	if (rc) {
		raise_rc(rc, fbus_open_error());
		Py_XDECREF(seq);
		return -1;
	}
	pthread_mutex_init(&self->mu, NULL);
	pthread_mutex_init(&self->pmu, NULL);
	self->sub = sub;
	self->hold = hold;
	if (seq && nuris > 1)
		snprintf(self->uri, sizeof self->uri, "%s and %zd more", uri,
		         nuris - 1);
	else
		snprintf(self->uri, sizeof self->uri, "%s", uri);
	Py_XDECREF(seq);
	return 0;
}

static void
Sub_dealloc(SubObject *self)
{
	/* no frame can be alive here: each holds a reference to us */
	self->closed = 1;
	sub_maybe_close(self);
	if (self->hold) {
		pthread_mutex_destroy(&self->mu);
		pthread_mutex_destroy(&self->pmu);
	}
	Py_TYPE(self)->tp_free((PyObject *)self);
}

static int
sub_check(SubObject *s)
{
	if (!s->hold) {
		PyErr_SetString(PyExc_ValueError, "Subscriber not initialised");
		return -1;
	}
	if (s->closed) {
		PyErr_SetString(PyExc_ValueError,
		                "operation on a closed Subscriber");
		return -1;
	}
	if (s->busy) {
		PyErr_SetString(PyExc_RuntimeError,
		                "another thread is in next() on this "
		                "Subscriber");
		return -1;
	}
	return 0;
}

static PyObject *
raise_held(SubObject *self)
{
	PyErr_Format(PyExc_BufferError,
	             "%zd frames of %s are still in use (numpy arrays or "
	             "memoryviews of them are alive) and hold=%u: del the "
	             "arrays you are done with, .copy() the ones you keep, "
	             "or open the Subscriber with a larger hold=",
	             self->live, self->uri, self->hold);
	return NULL;
}

/* next(timeout_ms): a Frame, or None when none came in time. */
static PyObject *
Sub_next(SubObject *self, PyObject *args)
{
	int timeout_ms = -1, rc = FBUS_ETIMEDOUT;
	struct fbus_frame fr;
	char err[1024] = "";
	FrameObject *f;

	if (!PyArg_ParseTuple(args, "|i", &timeout_ms))
		return NULL;
	if (sub_check(self))
		return NULL;
	if (self->live >= (Py_ssize_t)self->hold)
		return raise_held(self);
	self->busy = 1;
	/* slices, so that Ctrl-C gets through a long wait */
	for (;;) {
		int slice = timeout_ms < 0 || timeout_ms > 200 ? 200 : timeout_ms;

		Py_BEGIN_ALLOW_THREADS
		pthread_mutex_lock(&self->mu);
		flush_pending(self);
		rc = fbus_sub_next(self->sub, &fr, slice);
		flush_pending(self);
		if (rc && rc != FBUS_ETIMEDOUT)
			snprintf(err, sizeof err, "%s: %s", self->uri,
			         fbus_sub_last_error(self->sub));
		pthread_mutex_unlock(&self->mu);
		Py_END_ALLOW_THREADS
		if (rc != FBUS_ETIMEDOUT)
			break;
		if (timeout_ms >= 0) {
			timeout_ms -= slice;
			if (timeout_ms <= 0)
				break;
		}
		if (PyErr_CheckSignals()) {
			self->busy = 0;
			sub_maybe_close(self);
			return NULL;
		}
	}
	self->busy = 0;
	if (rc == FBUS_ETIMEDOUT) {
		sub_maybe_close(self);
		Py_RETURN_NONE;
	}
	if (rc == FBUS_EBUSY)
		return raise_held(self);
	if (rc)
		return raise_rc(rc, err);
	f = PyObject_New(FrameObject, &FrameType);
	if (!f) {
		pthread_mutex_lock(&self->mu);
		fbus_sub_release(self->sub, &fr);
		pthread_mutex_unlock(&self->mu);
		return NULL;
	}
	Py_INCREF(self);
	f->owner = self;
	f->fr = fr;
	f->exports = 0;
	f->want_release = 0;
	f->released = 0;
	self->live++;
	return (PyObject *)f;
}

static PyObject *
Sub_fileno(SubObject *self, PyObject *noargs)
{
	int fd;

	(void)noargs;
	if (sub_check(self))
		return NULL;
	pthread_mutex_lock(&self->mu);
	fd = fbus_sub_fd(self->sub);
	pthread_mutex_unlock(&self->mu);
	if (fd < 0)
		return raise_rc(fd, NULL);
	return PyLong_FromLong(fd);
}

static PyObject *
Sub_stats(SubObject *self, PyObject *noargs)
{
	struct fbus_sub_stats st;

	(void)noargs;
	if (sub_check(self))
		return NULL;
	pthread_mutex_lock(&self->mu);
	fbus_sub_stats(self->sub, &st);
	pthread_mutex_unlock(&self->mu);
	return Py_BuildValue("{sKsKsKsIsOsKsK}", "frames",
	                     (unsigned long long)st.frames, "skipped",
	                     (unsigned long long)st.skipped, "dropped",
	                     (unsigned long long)st.dropped, "reconnects",
	                     st.reconnects, "connected",
	                     st.connected ? Py_True : Py_False, "group_frames",
	                     (unsigned long long)st.group_frames,
	                     "group_skipped",
	                     (unsigned long long)st.group_skipped);
}

/* Frames still pinned keep the handle open until they are released. */
static PyObject *
Sub_close(SubObject *self, PyObject *noargs)
{
	(void)noargs;
	if (self->busy) {
		PyErr_SetString(PyExc_RuntimeError,
		                "close() while another thread is in next()");
		return NULL;
	}
	self->closed = 1;
	sub_maybe_close(self);
	Py_RETURN_NONE;
}

static PyObject *
Sub_get_closed(SubObject *self, void *c)
{
	(void)c;
	return PyBool_FromLong(self->closed);
}

static PyObject *
Sub_get_held(SubObject *self, void *c)
{
	(void)c;
	return PyLong_FromSsize_t(self->live);
}

static PyObject *
Sub_get_hold(SubObject *self, void *c)
{
	(void)c;
	return PyLong_FromUnsignedLong(self->hold);
}

static PyObject *
Sub_get_uri(SubObject *self, void *c)
{
	(void)c;
	return PyUnicode_FromString(self->uri);
}

static PyMethodDef Sub_methods[] = {
	{ "next", (PyCFunction)Sub_next, METH_VARARGS,
	  "next(timeout_ms=-1) -> Frame or None on timeout" },
	{ "fileno", (PyCFunction)Sub_fileno, METH_NOARGS,
	  "a file descriptor readable when next(0) has something to say" },
	{ "stats", (PyCFunction)Sub_stats, METH_NOARGS, "counters" },
	{ "close", (PyCFunction)Sub_close, METH_NOARGS,
	  "close; frames still in use keep their memory until released" },
	{ NULL, NULL, 0, NULL },
};

static PyGetSetDef Sub_getset[] = {
	{ "closed", (getter)Sub_get_closed, NULL, "close() was called", NULL },
	{ "held", (getter)Sub_get_held, NULL, "frames not handed back yet",
	  NULL },
	{ "hold", (getter)Sub_get_hold, NULL, "most frames held at once",
	  NULL },
	{ "uri", (getter)Sub_get_uri, NULL, "the bus", NULL },
	{ NULL, NULL, NULL, NULL, NULL },
};

static PyTypeObject SubType = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "framebus._framebus.Subscriber",
	.tp_basicsize = sizeof(SubObject),
	.tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
	.tp_doc = "Subscriber(uri, mode=0, depth=0, policy=0, block_ms=0, "
	          "reconnect=False, hold=1, pixfmt=0, max_bytes=0)",
	.tp_new = PyType_GenericNew,
	.tp_init = (initproc)Sub_init,
	.tp_dealloc = (destructor)Sub_dealloc,
	.tp_methods = Sub_methods,
	.tp_getset = Sub_getset,
};

/* ---- Frame -------------------------------------------------------------- */

/* ---- View: what arrays are made of ----------------------------------- */

typedef struct {
	PyObject_HEAD
	PyObject *owner; /* FrameObject or SlotObject */
	int slot;
} ViewObject;

static PyTypeObject ViewType;

static PyObject *
view_new(PyObject *owner, int slot, Py_ssize_t *exports)
{
	ViewObject *v = PyObject_New(ViewObject, &ViewType);

	if (!v)
		return NULL;
	Py_INCREF(owner);
	v->owner = owner;
	v->slot = slot;
	(*exports)++;
	return (PyObject *)v;
}


static int
frame_check(FrameObject *f)
{
	if (f->released || f->want_release) {
		PyErr_SetString(PyExc_ValueError,
		                "the frame was released: its memory is the "
		                "producer's again");
		return -1;
	}
	return 0;
}

static void
Frame_dealloc(FrameObject *f)
{
	/* views hold a reference: none is left */
	frame_give_back(f);
	Py_DECREF(f->owner);
	PyObject_Free(f);
}

static PyObject *
Frame_view(FrameObject *f, PyObject *noargs)
{
	(void)noargs;
	if (frame_check(f))
		return NULL;
	return view_new((PyObject *)f, 0, &f->exports);
}

/* release(): the frame goes back to the producer as soon as no view of
 * it is alive (now, if none is). */
static PyObject *
Frame_release(FrameObject *f, PyObject *noargs)
{
	(void)noargs;
	f->want_release = 1;
	if (f->exports == 0)
		frame_give_back(f);
	Py_RETURN_NONE;
}

static PyObject *
Frame_get_meta(FrameObject *f, void *c)
{
	(void)c;
	if (frame_check(f))
		return NULL;
	return PyBytes_FromStringAndSize(f->fr.meta, f->fr.meta_bytes);
}

static PyObject *
Frame_get_layout(FrameObject *f, void *c)
{
	(void)c;
	return layout_dict(&f->fr.fmt);
}

#define FGET(name, expr, conv)                                              \
	static PyObject *Frame_get_##name(FrameObject *f, void *c)          \
	{                                                                   \
		(void)c;                                                    \
		return conv(expr);                                          \
	}
FGET(seq, (unsigned long long)f->fr.seq, PyLong_FromUnsignedLongLong)
FGET(t_mono_ns, (long long)f->fr.t_mono_ns, PyLong_FromLongLong)
FGET(t_real_ns, (long long)f->fr.t_real_ns, PyLong_FromLongLong)
FGET(skipped, (unsigned long long)f->fr.skipped, PyLong_FromUnsignedLongLong)
FGET(pixfmt, (unsigned long)f->fr.fmt.pixfmt, PyLong_FromUnsignedLong)
FGET(width, (unsigned long)f->fr.fmt.width, PyLong_FromUnsignedLong)
FGET(height, (unsigned long)f->fr.fmt.height, PyLong_FromUnsignedLong)
FGET(payload_bytes, (unsigned long)f->fr.payload_bytes, PyLong_FromUnsignedLong)
FGET(released, f->released || f->want_release, PyBool_FromLong)
FGET(exports, f->exports, PyLong_FromSsize_t)
FGET(bus, (unsigned long)fbus_frame_bus(&f->fr), PyLong_FromUnsignedLong)
FGET(scale, (unsigned long)fbus_frame_scale(&f->fr), PyLong_FromUnsignedLong)

static PyGetSetDef Frame_getset[] = {
	{ "seq", (getter)Frame_get_seq, NULL, "sequence number", NULL },
	{ "scale", (getter)Frame_get_scale, NULL,
	  "N for a JPEG decoded at 1/N (?fit=WxH): camera pixel = frame "
	  "pixel * N; 1 otherwise", NULL },
	{ "bus", (getter)Frame_get_bus, NULL,
	  "index of the bus (in the Subscriber's list of URIs) the frame "
	  "came from; 0 for one bus", NULL },
	{ "t_mono_ns", (getter)Frame_get_t_mono_ns, NULL,
	  "capture time, CLOCK_MONOTONIC ns", NULL },
	{ "t_real_ns", (getter)Frame_get_t_real_ns, NULL,
	  "capture time, CLOCK_REALTIME ns", NULL },
	{ "skipped", (getter)Frame_get_skipped, NULL,
	  "frames published but not seen since the last", NULL },
	{ "pixfmt", (getter)Frame_get_pixfmt, NULL, "pixel format code", NULL },
	{ "width", (getter)Frame_get_width, NULL, "pixels", NULL },
	{ "height", (getter)Frame_get_height, NULL, "pixels", NULL },
	{ "payload_bytes", (getter)Frame_get_payload_bytes, NULL,
	  "payload size", NULL },
	{ "meta", (getter)Frame_get_meta, NULL, "metadata (a copy)", NULL },
	{ "layout", (getter)Frame_get_layout, NULL,
	  "pixfmt, width, height, nplanes, stride, offset, size", NULL },
	{ "released", (getter)Frame_get_released, NULL,
	  "release() was called", NULL },
	{ "exports", (getter)Frame_get_exports, NULL,
	  "views of the frame alive now", NULL },
	{ NULL, NULL, NULL, NULL, NULL },
};

static PyMethodDef Frame_methods[] = {
	{ "release", (PyCFunction)Frame_release, METH_NOARGS,
	  "hand the frame back once no view of it is alive" },
	{ "view", (PyCFunction)Frame_view, METH_NOARGS,
	  "a read-only buffer of the payload that pins the frame while it "
	  "(or any array made from it) lives" },
	{ NULL, NULL, 0, NULL },
};

static PyTypeObject FrameType = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "framebus._framebus.Frame",
	.tp_basicsize = sizeof(FrameObject),
	.tp_flags = Py_TPFLAGS_DEFAULT,
	.tp_doc = "A received frame: a read-only buffer over shared memory",
	.tp_dealloc = (destructor)Frame_dealloc,
	.tp_getset = Frame_getset,
	.tp_methods = Frame_methods,
};

/* ---- Publisher and Slot ------------------------------------------------- */

typedef struct {
	PyObject_HEAD
	struct fbus_pub *pub;
	pthread_mutex_t mu;
	int inited;
	PyObject *loaned; /* the Slot on loan (borrowed), or NULL */
	char uri[512];
} PubObject;

typedef struct {
	PyObject_HEAD
	PubObject *owner;
	struct fbus_slot slot;
	Py_ssize_t exports;
	int state; /* 0 loaned, 1 committed, 2 aborted */
} SlotObject;

static PyTypeObject PubType, SlotType;

static int
Pub_init(PubObject *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = { "uri", "slots", "max_subscribers",
		                  "max_block_ms", "max_frame_bytes",
		                  "allow_uids", "allow_gids", NULL };
	const char *uri;
	unsigned slots = 0, maxsub = 0, max_block = 0;
	unsigned long long max_frame = 0;
	PyObject *uids_o = NULL, *gids_o = NULL;
	uint32_t uids[64], gids[64];
	Py_ssize_t nu = 0, ng = 0;
	struct fbus_pub_opts o;
	struct fbus_pub *pub = NULL;
	int rc;

	if (self->pub) {
		PyErr_SetString(PyExc_RuntimeError, "Publisher already open");
		return -1;
	}
	if (!PyArg_ParseTupleAndKeywords(args, kw, "s|IIIKOO", kwlist, &uri,
	                                 &slots, &maxsub, &max_block,
	                                 &max_frame, &uids_o, &gids_o))
		return -1;
	for (int k = 0; k < 2; k++) {
		PyObject *o2 = k ? gids_o : uids_o, *seq;
		uint32_t *dst = k ? gids : uids;
		Py_ssize_t *n = k ? &ng : &nu;

		if (!o2 || o2 == Py_None)
			continue;
		seq = PySequence_Fast(o2, "allow_uids/allow_gids: a sequence "
		                          "of ints");
		if (!seq)
			return -1;
		*n = PySequence_Fast_GET_SIZE(seq);
		if (*n > 64) {
			Py_DECREF(seq);
			PyErr_SetString(PyExc_ValueError,
			                "at most 64 uids/gids");
			return -1;
		}
		for (Py_ssize_t i = 0; i < *n; i++) {
			unsigned long v = PyLong_AsUnsignedLong(
				PySequence_Fast_GET_ITEM(seq, i));
			if (PyErr_Occurred() || v > UINT32_MAX) {
				Py_DECREF(seq);
				if (!PyErr_Occurred())
					PyErr_SetString(PyExc_ValueError,
					                "uid out of range");
				return -1;
			}
			dst[i] = (uint32_t)v;
		}
		Py_DECREF(seq);
	}
	memset(&o, 0, sizeof o);
	o.size = sizeof o;
	o.slots = slots;
	o.max_subscribers = maxsub;
	o.max_block_ms = max_block;
	o.max_frame_bytes = max_frame;
	o.allow_uids = nu ? uids : NULL;
	o.n_allow_uids = (uint32_t)nu;
	o.allow_gids = ng ? gids : NULL;
	o.n_allow_gids = (uint32_t)ng;
	Py_BEGIN_ALLOW_THREADS
	rc = fbus_pub_open(&pub, uri, &o);
	Py_END_ALLOW_THREADS
	if (rc) {
		raise_rc(rc, fbus_open_error());
		return -1;
	}
	pthread_mutex_init(&self->mu, NULL);
	self->inited = 1;
	self->pub = pub;
	snprintf(self->uri, sizeof self->uri, "%s", uri);
	return 0;
}

static int
pub_check(PubObject *p)
{
	if (!p->pub) {
		PyErr_SetString(PyExc_ValueError,
		                "operation on a closed Publisher");
		return -1;
	}
	return 0;
}

static void
slot_abort(SlotObject *s)
{
	PubObject *p = s->owner;

	if (s->state != 0)
		return;
	s->state = 2;
	if (p->pub) {
		pthread_mutex_lock(&p->mu);
		fbus_pub_abort(p->pub, &s->slot);
		pthread_mutex_unlock(&p->mu);
	}
	if (p->loaned == (PyObject *)s)
		p->loaned = NULL;
}

static PyObject *
Pub_close(PubObject *self, PyObject *noargs)
{
	(void)noargs;
	if (self->loaned) {
		SlotObject *s = (SlotObject *)self->loaned;
		if (s->exports) {
			PyErr_SetString(PyExc_BufferError,
			                "close() while an array of a loaned "
			                "slot is alive: del it first");
			return NULL;
		}
		slot_abort(s);
	}
	if (self->pub) {
		struct fbus_pub *pub = self->pub;
		self->pub = NULL;
		Py_BEGIN_ALLOW_THREADS
		pthread_mutex_lock(&self->mu);
		fbus_pub_close(pub);
		pthread_mutex_unlock(&self->mu);
		Py_END_ALLOW_THREADS
	}
	Py_RETURN_NONE;
}

static void
Pub_dealloc(PubObject *self)
{
	/* a loaned Slot holds a reference: none is left */
	if (self->pub)
		fbus_pub_close(self->pub);
	if (self->inited)
		pthread_mutex_destroy(&self->mu);
	Py_TYPE(self)->tp_free((PyObject *)self);
}

/* loan(pixfmt, width, height, strides=None, size=0) -> Slot */
static PyObject *
Pub_loan(PubObject *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = { "pixfmt", "width", "height", "strides",
		                  "size", NULL };
	struct fbus_format fmt = { 0 };
	PyObject *strides = NULL;
	unsigned size = 0;
	SlotObject *s;
	int rc;

	if (!PyArg_ParseTupleAndKeywords(args, kw, "III|OI", kwlist,
	                                 &fmt.pixfmt, &fmt.width, &fmt.height,
	                                 &strides, &size))
		return NULL;
	if (pub_check(self))
		return NULL;
	if (self->loaned) {
		PyErr_SetString(PyExc_RuntimeError,
		                "a slot is on loan already: commit or abort it "
		                "first");
		return NULL;
	}
	if (strides && strides != Py_None) {
		PyObject *seq = PySequence_Fast(strides, "strides: a sequence");
		if (!seq)
			return NULL;
		for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(seq) &&
		                       i < FBUS_MAX_PLANES;
		     i++)
			fmt.stride[i] = (uint32_t)PyLong_AsUnsignedLong(
				PySequence_Fast_GET_ITEM(seq, i));
		Py_DECREF(seq);
		if (PyErr_Occurred())
			return NULL;
	}
	fmt.size = size;
	s = PyObject_New(SlotObject, &SlotType);
	if (!s)
		return NULL;
	s->exports = 0;
	s->state = 2;
	Py_INCREF(self);
	s->owner = self;
	pthread_mutex_lock(&self->mu);
	rc = fbus_pub_loan(self->pub, &fmt, &s->slot);
	pthread_mutex_unlock(&self->mu);
	if (rc) {
		Py_DECREF(s);
		return raise_rc(rc, fbus_pub_last_error(self->pub));
	}
	s->state = 0;
	self->loaned = (PyObject *)s;
	return (PyObject *)s;
}

static PyObject *
Pub_stats(PubObject *self, PyObject *noargs)
{
	struct fbus_pub_stats st;

	(void)noargs;
	if (pub_check(self))
		return NULL;
	pthread_mutex_lock(&self->mu);
	fbus_pub_stats(self->pub, &st);
	pthread_mutex_unlock(&self->mu);
	return Py_BuildValue("{sKsKsKsIsK}", "frames",
	                     (unsigned long long)st.frames, "dropped",
	                     (unsigned long long)st.dropped, "peer_errors",
	                     (unsigned long long)st.peer_errors,
	                     "subscribers", st.subscribers, "demoted",
	                     (unsigned long long)st.demoted);
}

static PyObject *
Pub_get_last_error(PubObject *self, void *c)
{
	(void)c;
	return PyUnicode_FromString(self->pub ? fbus_pub_last_error(self->pub)
	                                      : "");
}

static PyObject *
Pub_get_closed(PubObject *self, void *c)
{
	(void)c;
	return PyBool_FromLong(!self->pub);
}

static PyMethodDef Pub_methods[] = {
	{ "loan", (PyCFunction)(void (*)(void))Pub_loan,
	  METH_VARARGS | METH_KEYWORDS,
	  "loan(pixfmt, width, height, strides=None, size=0) -> Slot" },
	{ "stats", (PyCFunction)Pub_stats, METH_NOARGS, "counters" },
	{ "close", (PyCFunction)Pub_close, METH_NOARGS,
	  "stop serving; subscribers are told" },
	{ NULL, NULL, 0, NULL },
};

static PyGetSetDef Pub_getset[] = {
	{ "last_error", (getter)Pub_get_last_error, NULL,
	  "detail of the last failure or refused peer", NULL },
	{ "closed", (getter)Pub_get_closed, NULL, "close() was called", NULL },
	{ NULL, NULL, NULL, NULL, NULL },
};

static PyTypeObject PubType = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "framebus._framebus.Publisher",
	.tp_basicsize = sizeof(PubObject),
	.tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
	.tp_doc = "Publisher(uri, slots=0, max_subscribers=0, max_block_ms=0, "
	          "max_frame_bytes=0, allow_uids=None, allow_gids=None)",
	.tp_new = PyType_GenericNew,
	.tp_init = (initproc)Pub_init,
	.tp_dealloc = (destructor)Pub_dealloc,
	.tp_methods = Pub_methods,
	.tp_getset = Pub_getset,
};

static int
slot_check(SlotObject *s)
{
	if (s->state != 0 || !s->owner->pub) {
		PyErr_SetString(PyExc_ValueError,
		                "the slot was committed or aborted");
		return -1;
	}
	return 0;
}

static void
Slot_dealloc(SlotObject *s)
{
	slot_abort(s);
	Py_DECREF(s->owner);
	PyObject_Free(s);
}

/* commit(meta=None, t_mono_ns=0, t_real_ns=0, payload_bytes=0) -> seq */
static PyObject *
Slot_commit(SlotObject *s, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = { "meta", "t_mono_ns", "t_real_ns",
		                  "payload_bytes", NULL };
	PubObject *p = s->owner;
	Py_buffer meta = { 0 };
	long long tm = 0, tr = 0;
	unsigned payload = 0;
	int64_t seq;

	if (!PyArg_ParseTupleAndKeywords(args, kw, "|y*LLI", kwlist, &meta,
	                                 &tm, &tr, &payload))
		return NULL;
	if (slot_check(s)) {
		PyBuffer_Release(&meta);
		return NULL;
	}
	if (s->exports) {
		PyBuffer_Release(&meta);
		PyErr_Format(PyExc_BufferError,
		             "%zd array(s) of the slot are still alive: a "
		             "frame must not change after it is published; "
		             "del them before commit",
		             s->exports);
		return NULL;
	}
	if (meta.buf) {
		if (meta.len > FBUS_META_MAX) {
			PyBuffer_Release(&meta);
			PyErr_Format(PyExc_ValueError,
			             "meta is %zd bytes, at most %u", meta.len,
			             FBUS_META_MAX);
			return NULL;
		}
		memcpy(s->slot.meta, meta.buf, (size_t)meta.len);
		s->slot.meta_bytes = (uint32_t)meta.len;
		PyBuffer_Release(&meta);
	}
	s->slot.t_mono_ns = tm;
	s->slot.t_real_ns = tr;
	if (payload)
		s->slot.payload_bytes = payload;
	s->state = 1;
	p->loaned = NULL;
	Py_BEGIN_ALLOW_THREADS
	pthread_mutex_lock(&p->mu);
	seq = fbus_pub_commit(p->pub, &s->slot);
	pthread_mutex_unlock(&p->mu);
	Py_END_ALLOW_THREADS
	if (seq < 0)
		return raise_rc((int)seq, fbus_pub_last_error(p->pub));
	return PyLong_FromLongLong(seq);
}

static PyObject *
Slot_view(SlotObject *s, PyObject *noargs)
{
	(void)noargs;
	if (slot_check(s))
		return NULL;
	return view_new((PyObject *)s, 1, &s->exports);
}

static PyObject *
Slot_abort(SlotObject *s, PyObject *noargs)
{
	(void)noargs;
	if (s->state == 0 && s->exports) {
		PyErr_SetString(PyExc_BufferError,
		                "an array of the slot is still alive: del it "
		                "before abort");
		return NULL;
	}
	slot_abort(s);
	Py_RETURN_NONE;
}

static PyObject *
Slot_get_layout(SlotObject *s, void *c)
{
	PyObject *d = layout_dict(&s->slot.fmt), *cap;

	(void)c;
	cap = d ? PyLong_FromUnsignedLong(s->slot.capacity) : NULL;
	if (!cap || PyDict_SetItemString(d, "capacity", cap) < 0)
		Py_CLEAR(d);
	Py_XDECREF(cap);
	return d;
}

static PyObject *
Slot_get_state(SlotObject *s, void *c)
{
	(void)c;
	return PyUnicode_FromString(s->state == 0   ? "loaned"
	                            : s->state == 1 ? "committed"
	                                            : "aborted");
}

static PyMethodDef Slot_methods[] = {
	{ "commit", (PyCFunction)(void (*)(void))Slot_commit,
	  METH_VARARGS | METH_KEYWORDS,
	  "commit(meta=None, t_mono_ns=0, t_real_ns=0, payload_bytes=0) -> seq" },
	{ "abort", (PyCFunction)Slot_abort, METH_NOARGS,
	  "give the slot back unpublished" },
	{ "view", (PyCFunction)Slot_view, METH_NOARGS,
	  "a writable buffer of the slot; commit refuses while one lives" },
	{ NULL, NULL, 0, NULL },
};

static PyGetSetDef Slot_getset[] = {
	{ "layout", (getter)Slot_get_layout, NULL, "the frame's layout", NULL },
	{ "state", (getter)Slot_get_state, NULL,
	  "loaned, committed or aborted", NULL },
	{ NULL, NULL, NULL, NULL, NULL },
};

static PyTypeObject SlotType = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "framebus._framebus.Slot",
	.tp_basicsize = sizeof(SlotObject),
	.tp_flags = Py_TPFLAGS_DEFAULT,
	.tp_doc = "A loaned, writable frame in shared memory",
	.tp_dealloc = (destructor)Slot_dealloc,
	.tp_getset = Slot_getset,
	.tp_methods = Slot_methods,
};


static int
View_getbuffer(ViewObject *v, Py_buffer *view, int flags)
{
	if (v->slot) {
		SlotObject *s = (SlotObject *)v->owner;
		if (slot_check(s))
			return -1;
		return PyBuffer_FillInfo(view, (PyObject *)v, s->slot.data,
		                         s->slot.capacity, 0, flags);
	} else {
		FrameObject *f = (FrameObject *)v->owner;
		if (flags & PyBUF_WRITABLE) {
			PyErr_SetString(PyExc_BufferError,
			                "frames are read-only: .copy() to modify");
			return -1;
		}
		/* a live View keeps its frame from being handed back */
		return PyBuffer_FillInfo(view, (PyObject *)v,
		                         (void *)f->fr.data,
		                         f->fr.payload_bytes, 1, flags);
	}
}

static PyBufferProcs View_as_buffer = { (getbufferproc)View_getbuffer, NULL };

static void
View_dealloc(ViewObject *v)
{
	if (v->slot) {
		((SlotObject *)v->owner)->exports--;
	} else {
		FrameObject *f = (FrameObject *)v->owner;
		if (--f->exports == 0 && f->want_release)
			frame_give_back(f);
	}
	Py_DECREF(v->owner);
	PyObject_Free(v);
}

static PyTypeObject ViewType = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "framebus._framebus.View",
	.tp_basicsize = sizeof(ViewObject),
	.tp_flags = Py_TPFLAGS_DEFAULT,
	.tp_doc = "The memory of a frame or slot, pinned while this lives",
	.tp_dealloc = (destructor)View_dealloc,
	.tp_as_buffer = &View_as_buffer,
};

/* ---- module ------------------------------------------------------------- */

static PyObject *
m_pixfmt_name(PyObject *m, PyObject *arg)
{
	unsigned long v = PyLong_AsUnsignedLong(arg);
	const char *n;

	(void)m;
	if (PyErr_Occurred())
		return NULL;
	n = v <= UINT32_MAX ? fbus_pixfmt_name((uint32_t)v) : NULL;
	if (!n)
		Py_RETURN_NONE;
	return PyUnicode_FromString(n);
}

static PyObject *
m_pixfmt_parse(PyObject *m, PyObject *arg)
{
	const char *s = PyUnicode_AsUTF8(arg);

	(void)m;
	if (!s)
		return NULL;
	return PyLong_FromUnsignedLong(fbus_pixfmt_parse(s));
}

static PyObject *
m_format_layout(PyObject *m, PyObject *args)
{
	struct fbus_format f = { 0 };
	int rc;

	(void)m;
	if (!PyArg_ParseTuple(args, "III|I", &f.pixfmt, &f.width, &f.height,
	                      &f.size))
		return NULL;
	rc = fbus_format_layout(&f);
	if (rc)
		return raise_rc(rc, "invalid format or size");
	return layout_dict(&f);
}

static PyObject *
m_now_mono_ns(PyObject *m, PyObject *noargs)
{
	(void)m, (void)noargs;
	return PyLong_FromLongLong(fbus_now_mono_ns());
}

static PyObject *
m_now_real_ns(PyObject *m, PyObject *noargs)
{
	(void)m, (void)noargs;
	return PyLong_FromLongLong(fbus_now_real_ns());
}

static PyObject *
m_strerror(PyObject *m, PyObject *arg)
{
	long v = PyLong_AsLong(arg);

	(void)m;
	if (PyErr_Occurred())
		return NULL;
	return PyUnicode_FromString(fbus_strerror((int)v));
}

static PyMethodDef module_methods[] = {
	{ "pixfmt_name", m_pixfmt_name, METH_O, "format code -> name" },
	{ "pixfmt_parse", m_pixfmt_parse, METH_O, "name -> code (0 unknown)" },
	{ "format_layout", m_format_layout, METH_VARARGS,
	  "format_layout(pixfmt, width, height, size=0) -> dict" },
	{ "now_mono_ns", m_now_mono_ns, METH_NOARGS, "CLOCK_MONOTONIC ns" },
	{ "now_real_ns", m_now_real_ns, METH_NOARGS, "CLOCK_REALTIME ns" },
	{ "strerror", m_strerror, METH_O, "text of an FBUS_E* code" },
	{ NULL, NULL, 0, NULL },
};

static struct PyModuleDef module = {
	PyModuleDef_HEAD_INIT, "framebus._framebus",
	"libframebus for CPython: zero-copy frames through the buffer "
	"protocol",
	-1, module_methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__framebus(void);

PyMODINIT_FUNC
PyInit__framebus(void)
{
	PyObject *m;

	if (PyType_Ready(&SubType) < 0 || PyType_Ready(&FrameType) < 0 ||
	    PyType_Ready(&PubType) < 0 || PyType_Ready(&SlotType) < 0 ||
	    PyType_Ready(&ViewType) < 0)
		return NULL;
	m = PyModule_Create(&module);
	if (!m)
		return NULL;
	FramebusError = PyErr_NewExceptionWithDoc(
		"framebus.FramebusError",
		"a libframebus call failed; .errno is the positive errno of "
		"its FBUS_E* code",
		PyExc_OSError, NULL);
	DisconnectedError = PyErr_NewExceptionWithDoc(
		"framebus.Disconnected", "the producer went away (or is not "
		                         "there yet)",
		FramebusError, NULL);
	if (!FramebusError || !DisconnectedError ||
	    PyModule_AddObjectRef(m, "FramebusError", FramebusError) < 0 ||
	    PyModule_AddObjectRef(m, "Disconnected", DisconnectedError) < 0 ||
	    PyModule_AddObjectRef(m, "Subscriber", (PyObject *)&SubType) < 0 ||
	    PyModule_AddObjectRef(m, "Frame", (PyObject *)&FrameType) < 0 ||
	    PyModule_AddObjectRef(m, "Publisher", (PyObject *)&PubType) < 0 ||
	    PyModule_AddObjectRef(m, "Slot", (PyObject *)&SlotType) < 0) {
		Py_DECREF(m);
		return NULL;
	}
	PyModule_AddIntConstant(m, "MAX_HELD", FBUS_MAX_HELD);
	PyModule_AddIntConstant(m, "META_MAX", FBUS_META_MAX);
	PyModule_AddIntConstant(m, "MODE_LATEST", FBUS_MODE_LATEST);
	PyModule_AddIntConstant(m, "MODE_EVERY", FBUS_MODE_EVERY);
	PyModule_AddIntConstant(m, "FULL_DROP", FBUS_FULL_DROP);
	PyModule_AddIntConstant(m, "FULL_BLOCK", FBUS_FULL_BLOCK);
	PyModule_AddIntConstant(m, "PIXFMT_ENCODED", FBUS_PIXFMT_ENCODED);
	return m;
}
