"""Attribute names: the OpenTelemetry GenAI semantic conventions, plus the few llmloop adds.

Spans carry these names so any OpenTelemetry tool reads llmloop's traces and llmloop reads
traces that OpenLLMetry / OpenInference instrumentations send. Usage attributes belong on
the span of the model call itself, so summing them over a trace counts each token once.
"""

from __future__ import annotations

GEN_AI_SYSTEM = "gen_ai.system"
GEN_AI_OPERATION_NAME = "gen_ai.operation.name"
GEN_AI_REQUEST_MODEL = "gen_ai.request.model"
GEN_AI_REQUEST_TEMPERATURE = "gen_ai.request.temperature"
GEN_AI_REQUEST_TOP_P = "gen_ai.request.top_p"
GEN_AI_REQUEST_MAX_TOKENS = "gen_ai.request.max_tokens"
GEN_AI_REQUEST_STOP_SEQUENCES = "gen_ai.request.stop_sequences"
GEN_AI_RESPONSE_MODEL = "gen_ai.response.model"
GEN_AI_RESPONSE_FINISH_REASONS = "gen_ai.response.finish_reasons"
GEN_AI_USAGE_INPUT_TOKENS = "gen_ai.usage.input_tokens"
GEN_AI_USAGE_OUTPUT_TOKENS = "gen_ai.usage.output_tokens"
GEN_AI_INPUT_MESSAGES = "gen_ai.input.messages"
GEN_AI_OUTPUT_MESSAGES = "gen_ai.output.messages"

USER_ID = "user.id"
SESSION_ID = "session.id"
EXCEPTION_TYPE = "exception.type"
EXCEPTION_MESSAGE = "exception.message"

LLMLOOP_PROMPT = "llmloop.prompt.ref"
LLMLOOP_CHAIN = "llmloop.chain.name"
LLMLOOP_STEP = "llmloop.chain.step"
LLMLOOP_ATTEMPT = "llmloop.chain.attempt"
LLMLOOP_INPUT = "llmloop.input"
LLMLOOP_OUTPUT = "llmloop.output"

# What the gateway and ``ll.chat`` record on a chat request's spans beyond the GenAI names.
LLMLOOP_TARGET = "llmloop.target"  # on the root: the arm of the split the request was routed to
LLMLOOP_DEPLOYMENT = "llmloop.deployment"
LLMLOOP_DEPLOYMENT_REVISION = "llmloop.deployment.revision"
# On the root: the pinned NAME@VERSION of the registered model version that answered (lineage).
LLMLOOP_MODEL_VERSION = "llmloop.model.version"
LLMLOOP_TTFT_MS = "llmloop.time_to_first_token_ms"
LLMLOOP_LATENCY_MS = "llmloop.latency_ms"
LLMLOOP_COST_USD = "llmloop.cost_usd"
# Guardrails: each check is a span named "guardrails <stage>" whose events are its decisions
# (redactions, flags); a refusal names the guardrail on that span, a held-back stream on the root.
GUARDRAIL_SPAN_PREFIX = "guardrails "
LLMLOOP_GUARDRAIL_REFUSED = "llmloop.guardrail.refused"
LLMLOOP_GUARDRAIL_BUFFERED = "llmloop.guardrail.buffered"
