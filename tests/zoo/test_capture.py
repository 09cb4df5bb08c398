import threading

import torch
from torch import nn

from app.zoo.capture import capture_calls


def test_hooks_record_only_the_installing_thread_and_are_removed() -> None:
    layer = nn.Linear(3, 2)
    x = torch.ones(1, 3)
    with capture_calls({"out": layer}) as seen:
        other = threading.Thread(target=layer, args=(torch.zeros(1, 3),))
        other.start()
        other.join()
        assert seen == {}  # another request's forward pass is not ours
        expected = layer(x)
    assert torch.equal(seen["out"].output, expected)
    assert torch.equal(seen["out"].inputs[0], x)
    assert not layer._forward_hooks
