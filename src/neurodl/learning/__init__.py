"""Learning: gradient descent, rules without weight transport, local and spiking rules.

* Back-propagation and the rules that replace its weight transport, on
  :class:`~neurodl.networks.FeedForward` through ``TrainConfig(rule=...)``:
  :mod:`~neurodl.learning.trainer`, :mod:`~neurodl.learning.feedback`, and as
  drop-in torch layers :mod:`~neurodl.learning.feedback_layers`.
* Energy-based and local rules: predictive coding
  (:mod:`~neurodl.learning.predictive_coding`), equilibrium propagation
  (:mod:`~neurodl.learning.equilibrium`), forward-forward
  (:mod:`~neurodl.learning.forward_forward`).
* Unsupervised and associative rules: Hebb, Oja, Sanger
  (:mod:`~neurodl.learning.hebbian`), BCM (:mod:`~neurodl.learning.bcm`), classic
  and modern Hopfield networks (:mod:`~neurodl.learning.hopfield`).
* e-prop for recurrent spiking networks (:mod:`~neurodl.learning.eprop`,
  :mod:`~neurodl.learning.eprop_fit`).

STDP and homeostasis live in the spiking engine, :mod:`neurodl.simulate`.
"""

from neurodl.learning.bcm import BCMFit as BCMFit
from neurodl.learning.bcm import bcm_step as bcm_step
from neurodl.learning.bcm import fit_bcm as fit_bcm
from neurodl.learning.eprop import RecurrentLIF as RecurrentLIF
from neurodl.learning.eprop import bptt_gradients as bptt_gradients
from neurodl.learning.eprop import eprop_gradients as eprop_gradients
from neurodl.learning.eprop import eprop_step as eprop_step
from neurodl.learning.eprop_fit import EpropHistory as EpropHistory
from neurodl.learning.eprop_fit import evidence_task as evidence_task
from neurodl.learning.eprop_fit import fit_eprop as fit_eprop
from neurodl.learning.eprop_fit import sine_pattern_task as sine_pattern_task
from neurodl.learning.equilibrium import EPConfig as EPConfig
from neurodl.learning.equilibrium import EPNet as EPNet
from neurodl.learning.equilibrium import ep_gradients as ep_gradients
from neurodl.learning.equilibrium import fit_ep as fit_ep
from neurodl.learning.feedback import FEEDBACK_RULES as FEEDBACK_RULES
from neurodl.learning.feedback import Feedback as Feedback
from neurodl.learning.feedback import feedback_loss_and_grads as feedback_loss_and_grads
from neurodl.learning.feedback import feedback_step as feedback_step
from neurodl.learning.feedback import make_feedback as make_feedback
from neurodl.learning.feedback import update_angles as update_angles
from neurodl.learning.feedback import weight_angles as weight_angles
from neurodl.learning.feedback_layers import DFA as DFA
from neurodl.learning.feedback_layers import FeedbackLinear as FeedbackLinear
from neurodl.learning.forward_forward import FFConfig as FFConfig
from neurodl.learning.forward_forward import ff_predict as ff_predict
from neurodl.learning.forward_forward import fit_ff as fit_ff
from neurodl.learning.hebbian import HebbianFit as HebbianFit
from neurodl.learning.hebbian import fit_hebbian as fit_hebbian
from neurodl.learning.hebbian import hebb_step as hebb_step
from neurodl.learning.hebbian import oja_step as oja_step
from neurodl.learning.hebbian import sanger_step as sanger_step
from neurodl.learning.hebbian import subspace_step as subspace_step
from neurodl.learning.hopfield import capacity_curve as capacity_curve
from neurodl.learning.hopfield import flip_bits as flip_bits
from neurodl.learning.hopfield import hopfield_energy as hopfield_energy
from neurodl.learning.hopfield import hopfield_overlap as hopfield_overlap
from neurodl.learning.hopfield import hopfield_recall as hopfield_recall
from neurodl.learning.hopfield import hopfield_weights as hopfield_weights
from neurodl.learning.hopfield import modern_hopfield_energy as modern_hopfield_energy
from neurodl.learning.hopfield import (
    modern_hopfield_retrieve as modern_hopfield_retrieve,
)
from neurodl.learning.hopfield import modern_hopfield_step as modern_hopfield_step
from neurodl.learning.local_rules import LOCAL_RULES as LOCAL_RULES
from neurodl.learning.local_rules import train_local_rule as train_local_rule
from neurodl.learning.optimizers import OPTIMIZERS as OPTIMIZERS
from neurodl.learning.optimizers import Adam as Adam
from neurodl.learning.optimizers import GradientDescent as GradientDescent
from neurodl.learning.optimizers import Momentum as Momentum
from neurodl.learning.optimizers import Optimizer as Optimizer
from neurodl.learning.optimizers import make_optimizer as make_optimizer
from neurodl.learning.predictive_coding import PCConfig as PCConfig
from neurodl.learning.predictive_coding import fit_pc as fit_pc
from neurodl.learning.predictive_coding import pc_gradients as pc_gradients
from neurodl.learning.private import fit_private as fit_private
from neurodl.learning.rule_runs import load_rule_data as load_rule_data
from neurodl.learning.rule_runs import train_rule as train_rule
from neurodl.learning.trainer import ENGINES as ENGINES
from neurodl.learning.trainer import RULES as RULES
from neurodl.learning.trainer import History as History
from neurodl.learning.trainer import TrainConfig as TrainConfig
from neurodl.learning.trainer import accuracy as accuracy
from neurodl.learning.trainer import fit as fit

__all__ = [
    "DFA",
    "ENGINES",
    "FEEDBACK_RULES",
    "LOCAL_RULES",
    "OPTIMIZERS",
    "RULES",
    "Adam",
    "BCMFit",
    "EPConfig",
    "EPNet",
    "EpropHistory",
    "FFConfig",
    "Feedback",
    "FeedbackLinear",
    "GradientDescent",
    "HebbianFit",
    "History",
    "Momentum",
    "Optimizer",
    "PCConfig",
    "RecurrentLIF",
    "TrainConfig",
    "accuracy",
    "bcm_step",
    "bptt_gradients",
    "capacity_curve",
    "ep_gradients",
    "eprop_gradients",
    "eprop_step",
    "evidence_task",
    "feedback_loss_and_grads",
    "feedback_step",
    "ff_predict",
    "fit",
    "fit_bcm",
    "fit_ep",
    "fit_eprop",
    "fit_ff",
    "fit_hebbian",
    "fit_pc",
    "fit_private",
    "flip_bits",
    "hebb_step",
    "hopfield_energy",
    "hopfield_overlap",
    "hopfield_recall",
    "hopfield_weights",
    "load_rule_data",
    "make_feedback",
    "make_optimizer",
    "modern_hopfield_energy",
    "modern_hopfield_retrieve",
    "modern_hopfield_step",
    "oja_step",
    "pc_gradients",
    "sanger_step",
    "sine_pattern_task",
    "subspace_step",
    "train_local_rule",
    "train_rule",
    "update_angles",
    "weight_angles",
]
