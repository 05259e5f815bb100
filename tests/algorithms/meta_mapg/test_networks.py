"""The meta-agent's written-out LSTM: same function as torch's, twice differentiable, and the
sampling stepper computes exactly the forward pass the inner update needs."""

import torch
from torch.func import functional_call
from torch.nn import functional as F

from envs.matrix.batched import BatchedIteratedMatrixGame
from envs.matrix.games import ipd
from rllib_meta.algorithms.meta_mapg.networks import LSTMNet, stack_steps
from rllib_meta.algorithms.meta_mapg.sampling import sample_trajectories


def torch_lstm_reference(net: LSTMNet, inputs: torch.Tensor) -> torch.Tensor:
    """``Linear -> ReLU -> nn.LSTM -> Linear`` with torch's own LSTM and the net's weights."""
    hidden, _ = net.lstm(F.relu(net.encoder(inputs)))
    return net.head(hidden)


def test_forward_equals_torch_lstm_for_state_indices_and_features():
    torch.manual_seed(0)
    net = LSTMNet(obs_dim=5, out_dim=3, hidden=8).double()
    states = torch.randint(0, 5, (4, 7))
    one_hot = F.one_hot(states, 5).double()
    expected = torch_lstm_reference(net, one_hot)
    torch.testing.assert_close(net(states), expected)
    torch.testing.assert_close(net(one_hot), expected)


def test_stack_steps_matches_torch_stack_to_second_order():
    steps = [torch.randn(3, 2, dtype=torch.float64, requires_grad=True) for _ in range(4)]
    torch.testing.assert_close(stack_steps(steps), torch.stack(steps, 1))
    assert torch.autograd.gradcheck(lambda *xs: stack_steps(list(xs)) ** 2, steps)
    assert torch.autograd.gradgradcheck(lambda *xs: stack_steps(list(xs)) ** 2, steps)


def test_forward_is_twice_differentiable_in_its_parameters():
    torch.manual_seed(1)
    net = LSTMNet(obs_dim=3, out_dim=2, hidden=4).double()
    states = torch.randint(0, 3, (2, 5))
    names = [name for name, _ in net.named_parameters()]

    def outputs(*params):
        return functional_call(net, dict(zip(names, params, strict=True)), (states,))

    params = tuple(p.detach().clone().requires_grad_(True) for p in net.parameters())
    assert torch.autograd.gradgradcheck(outputs, params)


def test_sampled_logits_are_the_forward_pass_on_the_sampled_states():
    torch.manual_seed(2)
    net = LSTMNet(obs_dim=5, out_dim=2, hidden=16)
    params = {n: p.detach().clone().requires_grad_(True) for n, p in net.named_parameters()}
    game = BatchedIteratedMatrixGame(ipd(), horizon=6, batch_size=5)
    peer = [torch.zeros(5, 2)]
    batch, logits = sample_trajectories(net, peer, game, torch.Generator().manual_seed(0), params)
    replayed = functional_call(net, params, (batch.states,))
    torch.testing.assert_close(logits, replayed)
    grads = torch.autograd.grad(logits.sum(), list(params.values()))
    expected = torch.autograd.grad(replayed.sum(), list(params.values()))
    for grad, want in zip(grads, expected, strict=True):
        torch.testing.assert_close(grad, want)
