"""``braintrust.git_fields``: 0.48.1's import path of ``RepoInfo`` and ``GitMetadataSettings``
(``init(repo_info=..., git_metadata_settings=...)``). The implementation is ``braintrust.git``."""

from braintrust.git import GitMetadataSettings, RepoInfo

__all__ = ["GitMetadataSettings", "RepoInfo"]
