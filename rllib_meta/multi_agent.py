"""Policy-mapping functions to name in YAML.

Example: ``policy_mapping_fn: "rllib_meta.multi_agent:module_per_agent"``.
"""


def module_per_agent(agent_id: str, episode: object = None, **kwargs) -> str:
    """Each agent gets its own RLModule, named like the agent (independent learners)."""
    return agent_id


SHARED_MODULE_ID = "shared"


def shared_module(agent_id: str, episode: object = None, **kwargs) -> str:
    """Every agent plays with one shared RLModule (self-play with a single policy)."""
    return SHARED_MODULE_ID


def module_per_role(agent_id: str, episode: object = None, **kwargs) -> str:
    """Agents share one RLModule per role: ``pacman_3`` -> ``pacman``, ``agent_0`` -> ``agent``
    (parameter sharing within a role; particle worlds name agents ``<role>_<k>``)."""
    return agent_id.rsplit("_", 1)[0]
