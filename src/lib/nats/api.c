/* SPDX-License-Identifier: MIT */
/*
 * nats/api.c — dlopen of libnats.so.3.4 and the symbols nats:// uses, once
 * per process, never closed (handles may be alive at exit).
 */
#define _GNU_SOURCE
#include "nats/api.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdlib.h>

struct fbusi_nats_api fbusi_nats;

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static int load_rc;
static struct fbusi_err load_err;
static const char *soname = "libnats.so.3.4";

void
fbusi_nats_set_soname(const char *name)
{
	soname = name;
}

static void
load(void)
{
	void *lib;
	const char *env = getenv("FBUS_NATS_LIB");

	/* FBUS_NATS_LIB: another build of the client (the test of the
	 * missing-package message points it at a file that is not there) */
	if (env && *env)
		soname = env;
	lib = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
	if (!lib) {
		load_rc = fbusi_fail(&load_err, FBUS_ENOTSUP,
		                     "nats:// needs the NATS C client %s "
		                     "(install the Debian package libnats3.4): %s",
		                     soname, dlerror());
		return;
	}
#define SYM(name)                                                          \
	do {                                                               \
		*(void **)&fbusi_nats.name = dlsym(lib, #name);            \
		if (!fbusi_nats.name) {                                    \
			load_rc = fbusi_fail(&load_err, FBUS_ENOTSUP,      \
			                     "%s lacks %s: nats:// needs the " \
			                     "NATS C client 3.4 or later",     \
			                     soname, #name);                   \
			return;                                            \
		}                                                          \
	} while (0)
	SYM(natsOptions_Create);
	SYM(natsOptions_Destroy);
	SYM(natsOptions_SetServers);
	SYM(natsOptions_SetTimeout);
	SYM(natsOptions_SetName);
	SYM(natsOptions_SetUserCredentialsFromFiles);
	SYM(natsOptions_SetSecure);
	SYM(natsOptions_LoadCATrustedCertificates);
	SYM(natsOptions_LoadCertificatesChain);
	SYM(natsOptions_SetMaxReconnect);
	SYM(natsOptions_SetReconnectWait);
	SYM(natsOptions_SetReconnectBufSize);
	SYM(natsOptions_SetSendAsap);
	SYM(natsOptions_SetPingInterval);
	SYM(natsOptions_SetMaxPingsOut);
	SYM(natsOptions_SetDisconnectedCB);
	SYM(natsOptions_SetReconnectedCB);
	SYM(natsOptions_SetClosedCB);
	SYM(natsOptions_SetErrorHandler);
	SYM(natsConnection_Connect);
	SYM(natsConnection_Close);
	SYM(natsConnection_Destroy);
	SYM(natsConnection_Publish);
	SYM(natsConnection_FlushTimeout);
	SYM(natsConnection_GetMaxPayload);
	SYM(natsConnection_GetConnectedUrl);
	SYM(natsConnection_Subscribe);
	SYM(natsConnection_SubscribeSync);
	SYM(natsConnection_Request);
	SYM(natsConnection_PublishRequest);
	SYM(natsConnection_Status);
	SYM(natsSubscription_NextMsg);
	SYM(natsSubscription_SetPendingLimits);
	SYM(natsSubscription_GetPending);
	SYM(natsSubscription_GetDelivered);
	SYM(natsSubscription_Unsubscribe);
	SYM(natsSubscription_SetOnCompleteCB);
	SYM(natsSubscription_Destroy);
	SYM(natsSubscription_Fetch);
	SYM(natsMsg_GetData);
	SYM(natsMsg_GetDataLength);
	SYM(natsMsg_GetReply);
	SYM(natsMsg_GetSubject);
	SYM(natsMsg_GetMetaData);
	SYM(natsMsg_Destroy);
	SYM(natsMsgList_Destroy);
	SYM(natsInbox_Create);
	SYM(natsInbox_Destroy);
	SYM(natsStatus_GetText);
	SYM(nats_GetLastError);
	SYM(natsConnection_JetStream);
	SYM(jsCtx_Destroy);
	SYM(jsOptions_Init);
	SYM(jsStreamConfig_Init);
	SYM(js_AddStream);
	SYM(js_GetStreamInfo);
	SYM(jsStreamInfo_Destroy);
	SYM(jsConsumerConfig_Init);
	SYM(js_AddConsumer);
	SYM(js_GetConsumerInfo);
	SYM(jsConsumerInfo_Destroy);
	SYM(jsSubOptions_Init);
	SYM(js_PullSubscribe);
	SYM(jsMsgMetaData_Destroy);
#undef SYM
}

int
fbusi_nats_load(struct fbusi_err *err)
{
	pthread_once(&load_once, load);
	if (load_rc && err)
		*err = load_err;
	return load_rc;
}
