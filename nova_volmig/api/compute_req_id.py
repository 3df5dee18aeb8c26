"""Request ids: ``x-openstack-request-id`` and Nova's
``x-compute-request-id`` on every response (oslo.middleware)."""

from oslo_middleware import request_id

HTTP_RESP_HEADER_REQUEST_ID = 'x-compute-request-id'
# Inbound X-OpenStack-Request-ID ("req-<uuid>") becomes the context's
# global_request_id, so a Cinder request and its Nova calls correlate.
ENV_REQUEST_ID = request_id.ENV_REQUEST_ID
ENV_GLOBAL_REQUEST_ID = request_id.GLOBAL_REQ_ID


class ComputeReqIdMiddleware(request_id.RequestId):
    compat_headers = [HTTP_RESP_HEADER_REQUEST_ID]
