"""Model architectures: shapes, parameter counts, FLOP per token, KV bytes, HF config loading."""

from scalewall.arch.counts import (
    ParamBreakdown as ParamBreakdown,
)
from scalewall.arch.counts import (
    attention_flop_per_token as attention_flop_per_token,
)
from scalewall.arch.counts import (
    kv_cache_bytes_per_token as kv_cache_bytes_per_token,
)
from scalewall.arch.counts import (
    model_flop_per_token as model_flop_per_token,
)
from scalewall.arch.counts import (
    n_active_params as n_active_params,
)
from scalewall.arch.counts import (
    n_matmul_params as n_matmul_params,
)
from scalewall.arch.counts import (
    n_params as n_params,
)
from scalewall.arch.counts import (
    param_breakdown as param_breakdown,
)
from scalewall.arch.counts import (
    ssm_state_bytes_per_sequence as ssm_state_bytes_per_sequence,
)
from scalewall.arch.hf import from_hf_config as from_hf_config
from scalewall.arch.model import Architecture as Architecture
from scalewall.arch.model import Provenance as Provenance
