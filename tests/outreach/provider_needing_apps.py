"""An SMS provider whose module imports models, so it cannot be imported while the settings are read."""

from engines.providers.sms import RecordingSmsProvider
from outreach.models import Lead


class ModelsSmsProvider(RecordingSmsProvider):
    """Records like its parent; holds a model, as a provider that looks leads up would."""

    lead_model = Lead
