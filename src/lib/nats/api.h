/* SPDX-License-Identifier: MIT */
/*
 * nats/api.h — the NATS C client (libnats, Debian's libnats3.4) loaded at
 * run time, so that libframebus links nothing new and only nats:// needs
 * the package.  nats.h gives the types and prototypes at build time; each
 * function we call is a pointer of the same type in fbusi_nats.
 */
#ifndef FBUS_NATS_API_H
#define FBUS_NATS_API_H

#include "private.h"

#include <nats/nats.h>

#define FBUSI_NATS_FN(name) __typeof__(&name) name

struct fbusi_nats_api {
	FBUSI_NATS_FN(natsOptions_Create);
	FBUSI_NATS_FN(natsOptions_Destroy);
	FBUSI_NATS_FN(natsOptions_SetServers);
	FBUSI_NATS_FN(natsOptions_SetTimeout);
	FBUSI_NATS_FN(natsOptions_SetName);
	FBUSI_NATS_FN(natsOptions_SetUserCredentialsFromFiles);
	FBUSI_NATS_FN(natsOptions_SetSecure);
	FBUSI_NATS_FN(natsOptions_LoadCATrustedCertificates);
	FBUSI_NATS_FN(natsOptions_LoadCertificatesChain);
	FBUSI_NATS_FN(natsOptions_SetMaxReconnect);
	FBUSI_NATS_FN(natsOptions_SetReconnectWait);
	FBUSI_NATS_FN(natsOptions_SetReconnectBufSize);
	FBUSI_NATS_FN(natsOptions_SetSendAsap);
	FBUSI_NATS_FN(natsOptions_SetPingInterval);
	FBUSI_NATS_FN(natsOptions_SetMaxPingsOut);
	FBUSI_NATS_FN(natsOptions_SetDisconnectedCB);
	FBUSI_NATS_FN(natsOptions_SetReconnectedCB);
	FBUSI_NATS_FN(natsOptions_SetClosedCB);
	FBUSI_NATS_FN(natsOptions_SetErrorHandler);
	FBUSI_NATS_FN(natsConnection_Connect);
	FBUSI_NATS_FN(natsConnection_Close);
	FBUSI_NATS_FN(natsConnection_Destroy);
	FBUSI_NATS_FN(natsConnection_Publish);
	FBUSI_NATS_FN(natsConnection_FlushTimeout);
	FBUSI_NATS_FN(natsConnection_GetMaxPayload);
	FBUSI_NATS_FN(natsConnection_GetConnectedUrl);
	FBUSI_NATS_FN(natsConnection_Subscribe);
	FBUSI_NATS_FN(natsConnection_SubscribeSync);
	FBUSI_NATS_FN(natsConnection_Request);
	FBUSI_NATS_FN(natsConnection_PublishRequest);
	FBUSI_NATS_FN(natsConnection_Status);
	FBUSI_NATS_FN(natsSubscription_NextMsg);
	FBUSI_NATS_FN(natsSubscription_SetPendingLimits);
	FBUSI_NATS_FN(natsSubscription_GetPending);
	FBUSI_NATS_FN(natsSubscription_GetDelivered);
	FBUSI_NATS_FN(natsSubscription_Unsubscribe);
	FBUSI_NATS_FN(natsSubscription_SetOnCompleteCB);
	FBUSI_NATS_FN(natsSubscription_Destroy);
	FBUSI_NATS_FN(natsSubscription_Fetch);
	FBUSI_NATS_FN(natsMsg_GetData);
	FBUSI_NATS_FN(natsMsg_GetDataLength);
	FBUSI_NATS_FN(natsMsg_GetReply);
	FBUSI_NATS_FN(natsMsg_GetSubject);
	FBUSI_NATS_FN(natsMsg_GetMetaData);
	FBUSI_NATS_FN(natsMsg_Destroy);
	FBUSI_NATS_FN(natsMsgList_Destroy);
	FBUSI_NATS_FN(natsInbox_Create);
	FBUSI_NATS_FN(natsInbox_Destroy);
	FBUSI_NATS_FN(natsStatus_GetText);
	FBUSI_NATS_FN(nats_GetLastError);
	FBUSI_NATS_FN(natsConnection_JetStream);
	FBUSI_NATS_FN(jsCtx_Destroy);
	FBUSI_NATS_FN(jsOptions_Init);
	FBUSI_NATS_FN(jsStreamConfig_Init);
	FBUSI_NATS_FN(js_AddStream);
	FBUSI_NATS_FN(js_GetStreamInfo);
	FBUSI_NATS_FN(jsStreamInfo_Destroy);
	FBUSI_NATS_FN(jsConsumerConfig_Init);
	FBUSI_NATS_FN(js_AddConsumer);
	FBUSI_NATS_FN(js_GetConsumerInfo);
	FBUSI_NATS_FN(jsConsumerInfo_Destroy);
	FBUSI_NATS_FN(jsSubOptions_Init);
	FBUSI_NATS_FN(js_PullSubscribe);
	FBUSI_NATS_FN(jsMsgMetaData_Destroy);
};

extern struct fbusi_nats_api fbusi_nats;

/* Load libnats once: 0, or FBUS_ENOTSUP saying which package to install. */
int fbusi_nats_load(struct fbusi_err *err);

/* Tests: load another file name instead (a missing one). */
void fbusi_nats_set_soname(const char *name);

#endif
