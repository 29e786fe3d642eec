# netns client
State      Recv-Q Send-Q Local Address:Port   Peer Address:PortProcess
ESTAB      0      0      [2001:db8::1]:50564 [2001:db8::2]:80         
ESTAB      0      0      [2001:db8::1]:45660 [2001:db8::2]:89         
FIN-WAIT-1 0      1      [2001:db8::1]:38668 [2001:db8::2]:86         
FIN-WAIT-2 0      0      [2001:db8::1]:35210 [2001:db8::2]:83         
# netns server
State      Recv-Q Send-Q Local Address:Port  Peer Address:Port Process
LISTEN     0      4096   [2001:db8::2]:89            [::]:*           
LISTEN     0      4096   [2001:db8::2]:86            [::]:*           
LISTEN     0      4096   [2001:db8::2]:83            [::]:*           
LISTEN     0      4096   [2001:db8::2]:80            [::]:*           
ESTAB      0      0      [2001:db8::2]:80   [2001:db8::1]:50564       
CLOSE-WAIT 0      0      [2001:db8::2]:83   [2001:db8::1]:35210       
ESTAB      0      0      [2001:db8::2]:86   [2001:db8::1]:38668       
SYN-RECV   0      0      [2001:db8::2]:89   [2001:db8::1]:45660       
