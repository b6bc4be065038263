"""Spatial and temporal coherence: IMAX, contrastive coherence, InfoNCE, CPC, bottom-up/top-down agreement.

>>> from reprlab.coherence import info_nce, InfoNCELoss, IMAXObjective, random_dot_stereograms

Modules: :mod:`~reprlab.coherence.stereograms` (random-dot stereograms),
:mod:`~reprlab.coherence.imax` (Becker & Hinton 1992), :mod:`~reprlab.coherence.infonce` (the general
InfoNCE loss, shared with other domains), :mod:`~reprlab.coherence.mi` (KSG estimator, Gaussian closed
forms), :mod:`~reprlab.coherence.contrastive`, :mod:`~reprlab.coherence.cpc` (van den Oord et al. 2018),
:mod:`~reprlab.coherence.agreement` (layer-local agreement), :mod:`~reprlab.coherence.runs` (the
end-to-end runs behind the commands: ``run_imax``, ``run_cpc``, ``run_agreement``, the studies).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from reprlab._lazy import lazy_exports

if TYPE_CHECKING:
    from reprlab.coherence.agreement import AgreementConfig, AgreementObjective, agreement_loss
    from reprlab.coherence.contrastive import ContrastiveCoherenceConfig, ContrastiveCoherenceObjective
    from reprlab.coherence.cpc import CPCConfig, CPCModel, CPCObjective, cpc_loss, slow_factor_signals
    from reprlab.coherence.imax import (
        IMAXConfig,
        IMAXObjective,
        imax_information,
        imax_interpolation,
        imax_scalar,
        imax_vector,
        pearson_r,
    )
    from reprlab.coherence.infonce import (
        InfoNCELoss,
        check_temperature,
        critic_scores,
        info_nce,
        info_nce_from_scores,
        info_nce_mi_bound,
    )
    from reprlab.coherence.mi import gaussian_mi, gaussian_mi_from_covariance, ksg_mutual_information
    from reprlab.coherence.runs import (
        AgreementResult,
        AgreementRunConfig,
        CPCResult,
        CPCRunConfig,
        IMAXResult,
        IMAXRunConfig,
        run_agreement,
        run_cpc,
        run_imax,
    )
    from reprlab.coherence.stereograms import StereogramConfig, Stereograms, random_dot_stereograms

__all__, __getattr__, __dir__ = lazy_exports(__name__, {
    "agreement": ("AgreementConfig", "AgreementObjective", "agreement_loss"),
    "contrastive": ("ContrastiveCoherenceConfig", "ContrastiveCoherenceObjective"),
    "cpc": ("CPCConfig", "CPCModel", "CPCObjective", "cpc_loss", "slow_factor_signals"),
    "imax": ("IMAXConfig", "IMAXObjective", "imax_information", "imax_interpolation", "imax_scalar", "imax_vector", "pearson_r"),
    "infonce": ("InfoNCELoss", "check_temperature", "critic_scores", "info_nce", "info_nce_from_scores", "info_nce_mi_bound"),
    "mi": ("gaussian_mi", "gaussian_mi_from_covariance", "ksg_mutual_information"),
    "runs": ("AgreementResult", "AgreementRunConfig", "CPCResult", "CPCRunConfig", "IMAXResult", "IMAXRunConfig", "run_agreement", "run_cpc", "run_imax"),
    "stereograms": ("StereogramConfig", "Stereograms", "random_dot_stereograms"),
})
