// Calibration presets: three kinds of text, written for LayerLab, a few hundred words each. Plain data
// (no React), so tests and actions can import them. Layer importance depends on the text a model
// reads; comparing a story, encyclopaedic prose and code shows how much.

export interface Preset {
  id: string;
  label: string;
  text: string;
}

const story = `Once upon a time, there was a little fox named Pip who lived at the edge of a big green forest. Pip liked to run in the tall grass and look at the bugs and the flowers. One sunny morning, Pip saw a red ball rolling down the hill. "Wait for me!" Pip said, and he ran after it as fast as he could.

The ball rolled past a big old tree, where an owl was sleeping. The owl opened one eye and said, "Where are you going in such a hurry, little fox?" Pip stopped and said, "I want to catch the red ball. It is so shiny and round." The owl smiled. "Be careful," she said. "The ball is going to the river, and the river is deep."

Pip thought about what the owl said. He was a little scared, but he wanted the ball very much. He walked slowly to the river and looked at the water. The ball was floating near a rock. Pip did not jump in. Instead, he found a long stick and reached out over the water. He pushed the ball, very gently, until it came back to the grass.

Just then, a small rabbit came out from behind a bush. She looked sad. "That is my ball," she said quietly. "I lost it this morning when I was playing with my brother." Pip looked at the ball, and then he looked at the rabbit. He felt happy and sad at the same time. Then he gave the ball to the rabbit.

The rabbit was so happy that she hugged Pip. "Thank you, Pip! Do you want to play with us?" Pip smiled a big smile. The two friends played with the red ball all day long, and when the sun went down, the owl watched them from her tree. From that day on, Pip and the rabbit played together every morning, and they always stayed away from the deep river. Pip learned that sharing is more fun than keeping things for yourself.`;

const encyclopaedia = `The honey bee is a flying insect of the genus Apis, best known for building colonies that produce and store honey. Of the several species in the genus, the western honey bee has been domesticated for thousands of years and is now kept on every continent except Antarctica. A typical colony consists of a single fertile female, called the queen, several thousand male drones, and tens of thousands of sterile female workers. The workers perform nearly every task in the hive, changing their duties as they age: young workers clean cells and feed larvae, older ones build comb from wax secreted by glands on their abdomen, and the oldest forage outside the nest for nectar, pollen, water and plant resins.

Honey is made from the nectar of flowers. A forager stores nectar in a special crop, returns to the hive, and passes it to other workers, who add enzymes and spread it in thin layers inside the wax cells. As water evaporates, the sugar concentration rises until the honey is thick enough to resist fermentation, after which the cell is sealed with a cap of wax. A strong colony may produce more than one hundred kilograms of honey in a good season, far more than it needs to survive the winter, which is why beekeeping became a profitable trade.

Honey bees communicate the location of food through a behaviour known as the waggle dance, first described in detail by the Austrian ethologist Karl von Frisch, who shared the Nobel Prize in Physiology or Medicine in 1973. The angle of the dance relative to vertical indicates the direction of the food source relative to the sun, while the duration of the waggle run encodes its distance.

Besides honey and wax, bees provide a service of great economic value: pollination. Many fruit, nut and vegetable crops depend on insect pollinators, and managed honey bee colonies are moved between farms to pollinate orchards during flowering. Since the early twenty-first century, beekeepers in several countries have reported unusually high colony losses. Researchers attribute these losses to a combination of causes, including parasitic mites, viral diseases, pesticide exposure and a shortage of diverse forage.`;

const code = `# A small inventory module: items, stock levels and reorder rules.
from dataclasses import dataclass, field


@dataclass
class Item:
    sku: str
    name: str
    price: float
    stock: int = 0
    reorder_level: int = 5


@dataclass
class Inventory:
    items: dict[str, Item] = field(default_factory=dict)

    def add(self, item: Item) -> None:
        if item.sku in self.items:
            raise ValueError(f"duplicate sku: {item.sku}")
        self.items[item.sku] = item

    def receive(self, sku: str, quantity: int) -> int:
        """Add delivered units to the stock and return the new level."""
        if quantity <= 0:
            raise ValueError("quantity must be positive")
        item = self.items[sku]
        item.stock += quantity
        return item.stock

    def sell(self, sku: str, quantity: int = 1) -> float:
        """Remove sold units and return the total price."""
        item = self.items[sku]
        if quantity > item.stock:
            raise RuntimeError(f"only {item.stock} left of {item.name}")
        item.stock -= quantity
        return round(item.price * quantity, 2)

    def to_reorder(self) -> list[Item]:
        return sorted(
            (i for i in self.items.values() if i.stock <= i.reorder_level),
            key=lambda i: i.stock,
        )

    def value(self) -> float:
        total = 0.0
        for item in self.items.values():
            total += item.price * item.stock
        return total


def main() -> None:
    inv = Inventory()
    inv.add(Item("A-100", "pencil", 0.5, stock=40))
    inv.add(Item("B-200", "notebook", 2.25, stock=8, reorder_level=10))
    inv.add(Item("C-300", "stapler", 7.0, stock=3))
    inv.receive("C-300", 2)
    print("sold:", inv.sell("A-100", 12))
    for item in inv.to_reorder():
        print(f"reorder {item.name}: {item.stock} in stock")
    print(f"stock value: {inv.value():.2f}")


if __name__ == "__main__":
    main()
`;

export const PRESETS: Preset[] = [
  { id: 'story', label: "Children's story", text: story },
  { id: 'encyclopaedia', label: 'Encyclopaedic prose', text: encyclopaedia },
  { id: 'code', label: 'Code (Python)', text: code },
];

export const DEFAULT_PRESET_ID = 'story';

export function presetById(id: string | null): Preset | undefined {
  return PRESETS.find((p) => p.id === id);
}
