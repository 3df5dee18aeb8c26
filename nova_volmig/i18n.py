"""oslo.i18n integration for nova-volmig."""

import oslo_i18n

_translators = oslo_i18n.TranslatorFactory(domain='nova_volmig')

_ = _translators.primary
